"""win4658 hunt / win4658 baseline: every detection over event files with no SIEM, and allow-list learning."""

import argparse
import gc
import math
import os
import sys
from contextlib import ExitStack, contextmanager, nullcontext
from typing import IO, Callable, ContextManager, Dict, Iterator, List, Optional

from ..detections.baseline import learn_allowlist
from ..detections.definitions import DefinitionError, DetectionList, load_bundle
from ..detections.engine import event_process, event_user
from ..detections.lifetime import Lifetime
from ..detections.local_hunt import HandleQuery, Hunt, trace_handle
from ..detections.report import HtmlReport
from ..event import Event, ReadStats, RecordError
from ..examples import EXAMPLE_FILES
from ..sessions.stream import EndedSession
from ..times import format_ns
from .common import (
    OUTPUT_BUFFER,
    Progress,
    add_pairing_options,
    missing_paths,
    ndjson_line,
    open_output,
    refused_outputs,
    report_error,
    stream_or_device,
    whole_number,
)
from .hunt_output import INLINE_SESSIONS, SESSION_FILES, TEXT_FORMATS, WRITERS, SessionFileWriter

LIST_OPTIONS = {  # option → list name, for the lists a user replaces with an edited copy
    "allowlist": "win4658_allowlist",
    "standard_folders": "win4658_standard_folders",
    "restricted_folders": "win4658_restricted_folders",
    "restricted_substrings": "win4658_restricted_substrings",
}


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    hunt = subparsers.add_parser(
        "hunt",
        help="run every detection over event files (no Splunk or Elasticsearch needed)",
        description="Run the detections of detections/*.yml over EVTX, XML and JSON-lines files (event ids 4656, "
        "4658, 4663) and print a summary (findings per severity and detection, hosts, time range, files "
        "and records read), then the findings, the most severe first, each with its severity and "
        "MITRE ATT&CK ids, then the handle-lifetime statistics. With no PATH, hunts over the bundled "
        "example events. Exit status: 0 done, 1 a file could not be read (or --trace found nothing), "
        "2 wrong options or a path that does not exist.",
    )
    hunt.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="files, directories or archives; - is standard input (default: the bundled examples)",
    )
    for option, name in LIST_OPTIONS.items():
        hunt.add_argument(
            f"--{option.replace('_', '-')}",
            metavar="CSV",
            help=f"use this CSV (the header of lookups/{name}.csv) instead of the shipped list",
        )
    hunt.add_argument(
        "--long-handle",
        type=_threshold,
        metavar="SECONDS",
        help="report handles open longer than this (default: the detection's threshold; "
        "-1 lists every paired handle with its duration)",
    )
    hunt.add_argument(
        "--format",
        choices=sorted(WRITERS),
        default="table",
        help="table: the summary, then the findings by severity (default); json: one finding per line "
        "as found, handle traces marked drilldown, then the summary; jsonl and csv: the timeline, "
        "one finding per line or row, in time order",
    )
    hunt.add_argument(
        "--sessions",
        action="store_true",
        help="also the handle sessions (one per handle, 4656 to 4658; mappings/session.yml): json: a "
        '{"session": {…}} line each as it ends; table: their counts and the --limit longest; '
        "csv and jsonl: a file of their own, CSV or the NDJSON of convert --to sessions "
        "(--sessions-out, else FILE.sessions.csv or .jsonl beside -o FILE); --html: a section",
    )
    hunt.add_argument(
        "--sessions-out",
        metavar="FILE",
        help="write the handle sessions to this file (implies --sessions): CSV with --format csv or "
        "table, the NDJSON of convert --to sessions with json or jsonl; like -o and --html, never an input, "
        "a file inside an input directory or another output",
    )
    hunt.add_argument("-o", "--output", default="-", metavar="FILE", help="write the output here (default: stdout)")
    hunt.add_argument(
        "--html",
        metavar="FILE",
        help="also write a self-contained HTML report (summary, findings, timeline, handle lifetimes; "
        "with --sessions, the handle sessions)",
    )
    hunt.add_argument(
        "--limit",
        type=whole_number(0),
        default=10,
        metavar="N",
        help="findings shown per detection in the table (default 10)",
    )
    add_pairing_options(hunt)
    hunt.add_argument(
        "--trace",
        type=_handle,
        metavar="HOST,PROCESSID,HANDLEID",
        help="instead of hunting, list every 4656, 4663 and 4658 of this handle, oldest first "
        "(e.g. WS01.contoso.local,0x1b30,0x2a4; the host with or without its domain, the process id "
        "in hex or decimal (digits only are tried both ways), the handle id in hex); the events only: "
        "not with --sessions, --sessions-out or --html",
    )
    hunt.set_defaults(func=run_hunt)

    baseline = subparsers.add_parser(
        "baseline",
        help="learn an allow-list (detection 1) from known-good event files",
        description="Write every process path seen in 4658 events as an allow-list CSV for `hunt --allowlist` "
        "and the Splunk lookup win4658_allowlist.csv.",
    )
    baseline.add_argument(
        "paths", nargs="+", metavar="PATH", help="files, directories or archives of known-good events"
    )
    baseline.add_argument("-o", "--output", default="-", metavar="CSV", help="output file (default: stdout)")
    baseline.add_argument(
        "--per-host", action="store_true", help="one row per host and path (default: host * for every path)"
    )
    baseline.set_defaults(func=run_baseline)


def _threshold(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not math.isfinite(value) or (value < 0 and value != -1):
        raise argparse.ArgumentTypeError(f"must be 0 or more seconds, or -1 for every handle: {text!r}")
    return value


def _handle(text: str) -> HandleQuery:
    parts = [part.strip() for part in text.split(",")]
    if len(parts) != 3 or not all(parts):
        raise argparse.ArgumentTypeError(f"expected HOST,PROCESSID,HANDLEID, got {text!r}")
    try:
        return HandleQuery.parse(*parts)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _lists(args: argparse.Namespace) -> Dict[str, DetectionList]:
    shipped = {detection.list.name: detection.list for detection in load_bundle() if detection.list}
    return {
        name: shipped[name].replaced_from(getattr(args, option))
        for option, name in LIST_OPTIONS.items()
        if getattr(args, option)
    }


def run_hunt(args: argparse.Namespace) -> int:
    paths = args.paths or EXAMPLE_FILES
    if missing_paths(paths):
        return 2
    if args.trace:
        return run_trace(args, paths)
    sessions = args.sessions or args.sessions_out is not None
    try:
        sessions_path = _sessions_path(args) if sessions else None
    except ValueError as error:
        print(f"win4658: {error}", file=sys.stderr)
        return 2
    outputs = [
        (sessions_path, "the sessions file"),
        (args.output, "the output (-o)"),
        (args.html, "the HTML report (--html)"),
    ]
    if refused_outputs(outputs, paths):
        return 2
    try:
        hunt = Hunt(
            lists=_lists(args),
            long_handle_seconds=args.long_handle,
            window=args.reorder_window,
            max_open_handles=args.max_open_handles,
            sessions=sessions,
        )
    except (DefinitionError, ValueError) as error:
        print(f"win4658: {error}", file=sys.stderr)
        return 2
    session_file: Optional[SessionFileWriter] = None
    try:
        with ExitStack() as files:
            output = files.enter_context(_output(args.output, args.format in TEXT_FORMATS))
            html = files.enter_context(open(args.html, "w", encoding="utf-8")) if args.html else None
            writer = WRITERS[args.format](output, hunt, args.limit)
            report = HtmlReport(hunt) if html is not None else None
            if sessions_path is not None:
                kind, file_writer = SESSION_FILES[args.format]
                session_file = file_writer(files.enter_context(_output(sessions_path, kind == "csv")))
            on_session = _session_sink(args.format, writer, report, session_file) if sessions else None
            _hunt_into(hunt, paths, writer, report, on_session)
            if report is not None:
                report.write(html)  # type: ignore[arg-type]  # html is set whenever report is
    except BrokenPipeError:
        raise  # a reader that stopped (| head): main ends quietly
    except OSError as error:  # an output that cannot be written, said before the hunt when it cannot be opened
        print(f"win4658: {error.filename or args.output}: {error.strerror}", file=sys.stderr)
        return 2
    if session_file is not None and sessions_path != "-":
        print(f"win4658: {session_file.count:,} handle sessions written to {sessions_path}", file=sys.stderr)
    return 1 if hunt.summary.failed else 0


def _sessions_path(args: argparse.Namespace) -> Optional[str]:
    """Where the sessions' own file goes: --sessions-out, else beside -o FILE for csv and jsonl (their timeline
    holds findings only), else nowhere (json and the table show them). Raises ValueError for csv/jsonl sessions
    with nowhere to go."""
    path = args.sessions_out
    if path is None and args.format in INLINE_SESSIONS:
        return None
    if path is None:
        if stream_or_device(args.output):  # standard output, /dev/null, a FIFO: no file to put them beside
            given = "" if args.output == "-" else f" ({args.output} is no file to put them beside)"
            raise ValueError(
                f"--sessions with --format {args.format} writes the sessions to a file of their own{given}: "
                "give -o FILE (they go to FILE.sessions." + SESSION_FILES[args.format][0] + ") or --sessions-out FILE"
            )
        path = f"{os.path.splitext(args.output)[0]}.sessions.{SESSION_FILES[args.format][0]}"
    return path


def _session_sink(
    output_format: str, writer, report: Optional[HtmlReport], session_file: Optional[SessionFileWriter]
) -> Callable[[Lifetime], None]:
    """What takes each session as it ends: its own file, or the output that shows them; the HTML report. JSON lines
    alone are built from the lifetime itself (sessions/line.py); other takers share one EndedSession."""
    takers: List[Callable[[EndedSession], None]] = []
    if session_file is not None:
        takers.append(session_file.add_session)
    if session_file is None or output_format == "table":  # json's lines move to the file, the table's overview stays
        if output_format == "json" and report is None:
            return writer.add_session_line
        takers.append(writer.add_session)
    if report is not None:
        takers.append(report.add_session)

    def give(lifetime: Lifetime) -> None:
        ended = EndedSession(lifetime)
        for take in takers:
            take(ended)

    return give


def _hunt_into(
    hunt: Hunt,
    paths: List[str],
    writer,
    report: Optional[HtmlReport],
    on_session: Optional[Callable[[Lifetime], None]],
) -> None:
    """Run the hunt into its outputs, each session to ``on_session`` as it ends."""
    progress = Progress("hunted", hunt.summary.stats)
    try:
        with streaming_collector():
            for item in hunt.run(paths, on_session):
                if item.__class__ is RecordError:
                    progress.error(item)
                else:
                    writer.add(item)
                    if report is not None:
                        report.add(item)  # type: ignore[arg-type]
    finally:
        progress.close()
    writer.close()


YOUNG_OBJECTS_COLLECTED = 50_000  # the collector's first threshold while hunting (Python's default: 700)


@contextmanager
def streaming_collector() -> Iterator[None]:
    """The garbage collector tuned for a long stream, then as it was.

    The reorder window and the open-handle table keep some 10^5 objects alive for a while, which the default
    thresholds walk again in every young and middle collection and, with the objects of start-up, in every full
    one; they form no reference cycles. So the objects made so far are frozen (set apart from every walk) and
    young objects are collected in larger batches: memory stays bounded, the walks are fewer.
    """
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(YOUNG_OBJECTS_COLLECTED, *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def _output(path: str, text: bool) -> ContextManager[IO]:
    if not text:
        return open_output(path)
    if path == "-":
        return nullcontext(sys.stdout)
    return open(path, "w", encoding="utf-8", newline="", buffering=OUTPUT_BUFFER)


def run_trace(args: argparse.Namespace, paths: List[str]) -> int:
    combined = [option for option, given in TRACE_EXCLUDES.items() if getattr(args, given) not in (None, False)]
    if combined:
        print(
            f"win4658: --trace lists one handle's events; {' and '.join(combined)} cannot be combined with it",
            file=sys.stderr,
        )
        return 2
    if refused_outputs([(args.output, "the output (-o)")], paths):
        return 2
    failed = False
    found = 0
    stats = ReadStats()
    progress = Progress("traced", stats)
    with _output(args.output, True) as output:
        try:
            for item in trace_handle(paths, args.trace, window=args.reorder_window, stats=stats):
                if isinstance(item, RecordError):
                    progress.error(item)
                    failed = failed or item.is_failure
                    continue
                found += 1
                time, event = item
                row = _trace_row(event, format_ns(time) or event.system.get("TimeCreated"))
                if args.format in ("json", "jsonl"):
                    output.write(ndjson_line(row).decode("utf-8"))
                else:
                    output.write(" ".join(str(row.get(name) or "-") for name in TRACE_COLUMNS) + "\n")
        finally:
            progress.close()
    if not found:
        print(
            f"win4658: no events for this handle in {stats.files} file{'s' if stats.files != 1 else ''} "
            f"({stats.records} records read)",
            file=sys.stderr,
        )
    return 1 if failed or not found else 0


TRACE_EXCLUDES = {"--sessions": "sessions", "--sessions-out": "sessions_out", "--html": "html"}  # option → dest
TRACE_COLUMNS = ("time", "event_id", "user", "process", "access_mask", "object_type", "object_name")


def _trace_row(event: Event, time: Optional[str]) -> dict:
    data = event.data
    return {
        "time": time,
        "event_id": event.event_id,
        "host": event.system.get("Computer"),
        "user": event_user(event),
        "process": event_process(event),
        "process_id": data.get("ProcessId"),
        "handle_id": data.get("HandleId"),
        "access_mask": data.get("AccessMask"),
        "object_type": data.get("ObjectType"),
        "object_name": data.get("ObjectName"),
        "source": str(event.origin),
    }


def run_baseline(args: argparse.Namespace) -> int:
    if missing_paths(args.paths) or refused_outputs([(args.output, "the output (-o)")], args.paths):
        return 2
    stats = ReadStats()
    failed = False
    for item in learn_allowlist(args.paths, per_host=args.per_host, stats=stats):
        if isinstance(item, RecordError):
            report_error(item)
            failed = failed or item.is_failure
            continue
        text = item.to_csv()
        if args.output == "-":
            sys.stdout.write(text)
        else:
            with open(args.output, "w", encoding="utf-8", newline="") as stream:
                stream.write(text)
        print(
            f"learned {len(item.rows)} allow-list rows from {stats.records} records in {stats.files} files",
            file=sys.stderr,
        )
    return 1 if failed else 0
