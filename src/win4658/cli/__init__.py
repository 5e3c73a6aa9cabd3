"""The `win4658` command: one module per subcommand, each a thin shell over the library."""

import argparse
import importlib
import sys
from typing import List, Optional, Sequence

from .. import __version__

# Each module has register(subparsers), which adds its subcommand and sets `func`.
SUBCOMMANDS = ["convert", "generate", "hunt", "es", "kibana", "splunk"]


def build_parser(argv: Optional[Sequence[str]] = None) -> argparse.ArgumentParser:
    """The parser of every subcommand; given arguments that name one, of that one alone (its module imported, not
    every other's with their libraries: start-up stays short), which parses them alike."""
    parser = argparse.ArgumentParser(
        prog="win4658",
        description="Windows Security event 4658 (handle closed): convert, hunt, and run in Splunk and Elasticsearch.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    named = argv[0] if argv and argv[0] in SUBCOMMANDS else None
    for name in [named] if named else SUBCOMMANDS:
        importlib.import_module(f".{name}", __name__).register(subparsers)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    args = build_parser(arguments).parse_args(arguments)
    try:
        return args.func(args)
    except BrokenPipeError:
        sys.stderr.close()
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
