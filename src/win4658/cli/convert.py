"""win4658 convert: any input form → NDJSON in ECS, CIM or the Winlogbeat shape."""
import argparse
from typing import Any, Dict, Iterator, Union

from ..convert import CONVERTERS, Summary, convert
from ..event import RecordError
from ..parallel import Written, convert_in_workers
from .common import Progress, add_event_id_option, event_ids, ndjson_line, open_output, print_lines


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
    parser.add_argument("--workers", type=_positive, default=1, metavar="N",
                        help="convert N files at a time in N processes (default 1); documents of different files "
                             "then interleave, each file's in its own order")
    parser.set_defaults(func=run)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"not a positive number: {text!r}")
    return int(text)


def run(args: argparse.Namespace) -> int:
    summary = Summary()
    progress = Progress("converted", None if args.workers > 1 else summary.stats)
    with open_output(args.output) as output:
        write = output.write
        for item in _converted(args, summary):
            if item.__class__ is dict:  # a document: checked first, as nearly every item is one
                write(ndjson_line(item))
                progress.tick()
            elif isinstance(item, RecordError):
                progress.error(item)
            else:  # the workers wrote it
                progress.tick(item.documents)
    progress.close()
    print_lines(summary.lines())
    return 1 if summary.failed else 0


def _converted(args: argparse.Namespace, summary: Summary) -> Iterator[Union[Dict[str, Any], Written, RecordError]]:
    if args.workers > 1:
        return convert_in_workers(args.paths, args.output, ndjson_line, args.workers, args.to, event_ids(args), summary)
    return convert(args.paths, args.to, event_ids(args), summary)
