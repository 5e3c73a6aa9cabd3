"""win4658 convert: any input form → NDJSON in ECS, CIM or the Winlogbeat shape, or handle sessions."""

import argparse
import sys
from typing import Any, Dict, Iterator, Union, cast

from ..convert import CONVERTERS, Summary, convert, convert_results
from ..event import RecordError
from ..parallel import Written, convert_in_workers
from ..sessions.enrich import read_enriched
from ..sessions.fields import SESSION_SHAPES
from ..sessions.stream import handle_sessions, session_hunt
from .common import (
    Progress,
    add_event_id_option,
    add_pairing_options,
    event_ids,
    missing_paths,
    ndjson_line,
    open_output,
    print_lines,
    refused_outputs,
    whole_number,
)

SESSIONS = "sessions"


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser(
        "convert",
        help="convert event files to NDJSON (ECS, CIM or Winlogbeat shape, or handle sessions)",
        description="Read EVTX, event XML, JSON-lines (Winlogbeat, Elastic Agent, NXLog), WinEventLog text, "
        "or .zip/.tar.gz archives of them, and write one JSON document per event, or with "
        "--to sessions one per handle (its 4656 open, 4663 accesses and 4658 close).",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files, directories or archives")
    parser.add_argument(
        "--to", choices=sorted(CONVERTERS) + [SESSIONS], default="ecs", help="output shape (default: ecs)"
    )
    parser.add_argument(
        "--fields",
        choices=sorted(SESSION_SHAPES),
        default="ecs",
        help="--to sessions: ECS or CIM field names (default: ecs; mappings/session.yml)",
    )
    parser.add_argument(
        "--enrich",
        action="store_true",
        help="give each 4658 the ObjectServer, ObjectType and ObjectName of the 4656 that opened its "
        "handle (paired as hunt pairs; documents then come in the log's time order)",
    )
    add_pairing_options(parser, "--to sessions, --enrich")
    parser.add_argument(
        "-o",
        "--output",
        default="-",
        metavar="FILE",
        help="output file (default: stdout); never an input nor inside an input directory",
    )
    add_event_id_option(parser)
    parser.add_argument(
        "--workers",
        type=whole_number(1),
        default=1,
        metavar="N",
        help="convert N files at a time in N processes (default 1); documents of different files "
        "then interleave, each file's in its own order (not with --to sessions or --enrich)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if missing_paths(args.paths) or refused_outputs([(args.output, "the output (-o)")], args.paths):
        return 2
    if args.workers > 1 and (args.to == SESSIONS or args.enrich):
        print("win4658: --workers pairs nothing: use one worker with --to sessions or --enrich", file=sys.stderr)
        return 2
    summary = Summary()
    progress = Progress("converted", None if args.workers > 1 else summary.stats)
    with open_output(args.output) as output:
        write = output.write
        for item in _converted(args, summary):
            if item.__class__ is dict:  # a document: checked first, as nearly every item is one (the progress
                write(ndjson_line(item))  # line counts the records read, not documents)
            elif isinstance(item, RecordError):
                progress.error(item)
            else:  # the workers wrote it (mypy does not narrow on __class__, the cheapest test for the dicts)
                progress.tick(cast(Written, item).documents)
    progress.close()
    print_lines(summary.lines())
    return 1 if summary.failed else 0


def _converted(args: argparse.Namespace, summary: Summary) -> Iterator[Union[Dict[str, Any], Written, RecordError]]:
    if args.to == SESSIONS:
        return _sessions(args, summary)
    if args.enrich:
        results = read_enriched(args.paths, event_ids(args), summary.stats, args.reorder_window, args.max_open_handles)
        return convert_results(results, args.to, summary)
    if args.workers > 1:
        return convert_in_workers(args.paths, args.output, ndjson_line, args.workers, args.to, event_ids(args), summary)
    return convert(args.paths, args.to, event_ids(args), summary)


def _sessions(args: argparse.Namespace, summary: Summary) -> Iterator[Union[Dict[str, Any], RecordError]]:
    hunt = session_hunt(args.reorder_window, args.max_open_handles)
    hunt.summary.stats = summary.stats
    shape = SESSION_SHAPES[args.fields]
    for item in handle_sessions(args.paths, hunt):
        if isinstance(item, RecordError):  # counted by the hunt's own summary as well, which this run does not report
            summary.record_error(item)
            yield item
            continue
        summary.converted += 1
        yield shape(item)
