"""win4658 generate: rewrite every generated file (pipeline, template, Splunk knowledge, rules) from its source."""

import argparse
import sys
from typing import TYPE_CHECKING

from ..checkout import CheckoutError, find_checkout, require_installed_from
from ..detections.definitions import DefinitionError

if TYPE_CHECKING:
    from ..generate import Changes


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser(
        "generate",
        help="regenerate the committed files that follow from mappings/ and detections/",
        description="Regenerate the files of a win4658 checkout that follow from mappings/ and detections/.",
    )
    parser.add_argument(
        "--root", metavar="DIR", help="the win4658 checkout (default: the current directory, if it is one)"
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; list the files that differ from their sources, exit 1 if any",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # imported here: generation reaches the Elasticsearch client, which every other command would pay to import
    from ..generate import GenerationError, changes, write_all

    try:
        root = find_checkout(args.root)
        require_installed_from(root)
        if args.check:
            return _report(changes(root))
        written = write_all(root)
        for path in written.leftovers:
            print(f"removed {path}")
        for path in written.stale:
            print(f"wrote {path}")
    except (CheckoutError, DefinitionError, GenerationError) as error:
        print(f"win4658 generate: {error}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as error:
        if error.name != "jsonschema":  # it validates the detections: a development dependency
            raise
        print(f"win4658 generate: {error}: pip install 'win4658[test]'", file=sys.stderr)
        return 2
    return 0


def _report(pending: "Changes") -> int:
    for path in pending.stale:
        print(f"differs from its source: {path}")
    for path in pending.leftovers:
        print(f"no longer generated: {path}")
    return 1 if pending.stale or pending.leftovers else 0
