"""win4658 splunk: build the add-on package; run a saved search of the app on a Splunk server."""

import argparse
import json
import os
import sys

from ..splunk.package import ADDON_DIR, NO_EVTX_WARNING, PackageError, build_package


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser(
        "splunk", help="package the Splunk add-on, run its saved searches", description="The Splunk add-on TA-win4658."
    )
    commands = parser.add_subparsers(dest="splunk_command", required=True, metavar="SUBCOMMAND")
    package = commands.add_parser("package", help="build TA-win4658-<version>.tgz with its libraries vendored")
    package.add_argument("-o", "--output", default="dist", metavar="DIR", help="output folder (default: dist)")
    package.add_argument(
        "--addon",
        default=ADDON_DIR,
        metavar="DIR",
        help="the add-on folder to package (default: the one installed with win4658, "
        "the addon/ of the checkout it was installed from)",
    )
    package.add_argument(
        "--evtx-wheel",
        action="append",
        default=[],
        metavar="WHEEL",
        help="an evtx wheel to vendor, repeatable (pip download evtx==0.8.9 --no-deps "
        "--only-binary :all: --platform manylinux2014_x86_64 / win_amd64)",
    )
    package.set_defaults(func=run_package)
    search = commands.add_parser(
        "search",
        help="dispatch a saved search of the app and print its results as NDJSON",
        description="Connection from WIN4658_SPLUNK_URL (https://host:8089) with WIN4658_SPLUNK_TOKEN, or "
        "WIN4658_SPLUNK_USER and WIN4658_SPLUNK_PASSWORD (never on the command line). The server's TLS "
        "certificate is verified (WIN4658_SPLUNK_CA_CERTS: a PEM bundle of the CAs to trust).",
    )
    search.add_argument("name", metavar="NAME", help="saved search name")
    search.add_argument(
        "--insecure",
        action="store_true",
        help="do not verify the server's TLS certificate (as WIN4658_SPLUNK_VERIFY=false)",
    )
    search.set_defaults(func=run_search)


def run_package(args: argparse.Namespace) -> int:
    try:
        path = build_package(args.output, args.addon, evtx_wheels=args.evtx_wheel)
    except PackageError as error:
        print(f"win4658: {error}", file=sys.stderr)
        return 1
    if not args.evtx_wheel:
        banner = "win4658: " + "!" * 72
        print(
            "\n".join([banner, *(f"win4658: {line}" for line in NO_EVTX_WARNING.splitlines()), banner]), file=sys.stderr
        )
    print(path)
    return 0


def run_search(args: argparse.Namespace) -> int:
    try:  # splunk-sdk is only needed here: pip install 'win4658[splunk]'
        from ..splunk.client import (
            ConnectionSettings,
            SplunkConnectionError,
            answers_from,
            connect,
            dispatch_saved_search,
        )
    except ImportError as error:
        print(f"win4658: {error}: pip install 'win4658[splunk]'", file=sys.stderr)
        return 2
    try:
        settings = ConnectionSettings.from_environment(os.environ, insecure=args.insecure)
        service = connect(settings)
        rows = 0
        with answers_from(settings.url):
            for row in dispatch_saved_search(service, args.name):
                print(json.dumps(row, ensure_ascii=False, sort_keys=True))
                rows += 1
    except SplunkConnectionError as error:
        print(f"win4658: {error}", file=sys.stderr)
        return 2
    print(f"{rows} results", file=sys.stderr)
    return 0
