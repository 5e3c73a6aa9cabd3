"""win4658 convert: any input form → NDJSON in ECS, CIM or the Winlogbeat shape."""
import argparse

from ..convert import CONVERTERS, Summary, convert
from ..event import RecordError
from .common import Progress, add_event_id_option, dumps, event_ids, open_output, print_lines, report_error


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "convert", help="convert event files to NDJSON (ECS, CIM or Winlogbeat shape)",
        description="Read EVTX, event XML, JSON-lines (Winlogbeat, Elastic Agent, NXLog), WinEventLog text, "
                    "or .zip/.tar.gz archives of them, and write one JSON document per event.",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files, directories or archives")
    parser.add_argument("--to", choices=sorted(CONVERTERS), default="ecs", help="output shape (default: ecs)")
    parser.add_argument("-o", "--output", default="-", metavar="FILE", help="output file (default: stdout)")
    add_event_id_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    summary = Summary()
    progress = Progress("converted")
    with open_output(args.output) as output:
        for item in convert(args.paths, args.to, event_ids(args), summary):
            if isinstance(item, RecordError):
                report_error(item)
                continue
            output.write(dumps(item) + b"\n")
            progress.tick()
    progress.close()
    print_lines(summary.lines())
    return 1 if summary.failed else 0
