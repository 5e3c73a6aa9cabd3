"""win4658 kibana: install (or remove) the generated detection rules and dashboards through Kibana's API.

Exit status: 0 when every item was imported, 1 when Kibana refused some (each is printed), 2 for usage and
connection errors.
"""

import argparse
import os
import sys
import tempfile
from importlib import resources

from ..detections.definitions import load_bundle
from ..detections.fields import installed
from ..detections.kibana import rules_ndjson

RULES_FILE = "the installed detections"
DASHBOARDS_FILE = "the installed dashboards"
SECRETS_HELP = (
    "Kibana comes from the environment only: WIN4658_KIBANA_URL, and WIN4658_KIBANA_API_KEY or "
    "WIN4658_KIBANA_USER with WIN4658_KIBANA_PASSWORD; WIN4658_KIBANA_CA_CERTS sets the CA bundle"
)


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser(
        "kibana", help="Kibana: install the detection rules and dashboards", description=SECRETS_HELP
    )
    kinds = parser.add_subparsers(dest="kibana_kind", required=True, metavar="KIND")
    for kind, default, helptext in (
        ("rules", RULES_FILE, "the detection rules (disabled until you enable them)"),
        ("dashboards", DASHBOARDS_FILE, "the data views, searches and dashboards"),
    ):
        kind_parser = kinds.add_parser(kind, help=helptext, description=SECRETS_HELP)
        actions = kind_parser.add_subparsers(dest="kibana_action", required=True, metavar="ACTION")
        for action, action_help in (
            ("install", f"import {helptext}, overwriting earlier versions"),
            ("uninstall", f"delete {helptext}"),
        ):
            action_parser = actions.add_parser(action, help=action_help, description=f"{action_help}. {SECRETS_HELP}")
            action_parser.add_argument("--file", help=f"NDJSON to import (default: {default})")
            action_parser.add_argument("--space", help="Kibana space id (default: the default space)")
            action_parser.add_argument("--ca-certs", metavar="PEM", help="CA bundle to verify Kibana's certificate")
            action_parser.add_argument("--insecure", action="store_true", help="do not verify Kibana's certificate")
            action_parser.set_defaults(func=run, kind=kind, action=action)


def run(args: argparse.Namespace) -> int:
    if args.file or args.kind == "dashboards":
        return _run_with(
            args, args.file or str(resources.files("win4658") / "dashboards" / "generated" / "kibana_dashboards.ndjson")
        )
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "kibana_rules.ndjson")
        with open(path, "w", encoding="utf-8") as stream:
            stream.write(rules_ndjson(load_bundle(), installed("ecs")))
        return _run_with(args, path)


def _run_with(args: argparse.Namespace, path: str) -> int:
    from ..kibana.client import Kibana, KibanaError, kibana_settings
    from ..kibana.install import delete_rules, delete_saved_objects, import_rules, import_saved_objects

    try:
        kibana = Kibana(kibana_settings(os.environ, args.ca_certs, args.insecure), args.space)
        if args.action == "uninstall":
            deleted = (delete_rules if args.kind == "rules" else delete_saved_objects)(kibana, path)
            print(f"{args.kind}: deleted {len(deleted)}")
            return 0
        imported = (import_rules if args.kind == "rules" else import_saved_objects)(kibana, path)
    except KibanaError as error:
        print(f"win4658 kibana: {error}", file=sys.stderr)
        return 2
    for line in imported.errors:
        print(f"win4658 kibana: {line}", file=sys.stderr)
    print(f"{args.kind}: {imported.succeeded} of {imported.total} imported")
    return 0 if imported.succeeded == imported.total and not imported.errors else 1
