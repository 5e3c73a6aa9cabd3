"""win4658 hunt / win4658 baseline: every detection over event files with no SIEM, and allow-list learning."""
import argparse
import sys
from typing import Dict, List, Optional, Tuple

from ..detections.baseline import learn_allowlist
from ..detections.definitions import DefinitionError, DetectionList, load_bundle
from ..detections.engine import Finding, event_process, event_user
from ..detections.hunt import Hunt, HuntSummary, trace_handle
from ..detections.lifetime import DEFAULT_MAX_OPEN, Lifetime
from ..sessions.record import session_record
from ..detections.timeline import DEFAULT_WINDOW
from ..times import format_ns
from ..event import Event, RecordError, ReadStats
from ..mapping import hex_to_int
from ..examples import EXAMPLE_FILES
from .common import ndjson_line, report_error

LIST_OPTIONS = {  # option → list name, for the lists a user replaces with an edited copy
    "allowlist": "win4658_allowlist",
    "standard_folders": "win4658_standard_folders",
    "restricted_folders": "win4658_restricted_folders",
    "restricted_substrings": "win4658_restricted_substrings",
}
COLUMNS = [("time", 27), ("host", 22), ("user", 22), ("process", 60), ("pid", 8), ("handle", 8)]


def register(subparsers) -> None:
    hunt = subparsers.add_parser(
        "hunt", help="run every detection over event files (no Splunk or Elasticsearch needed)",
        description="Run the detections of detections/*.yml over EVTX, XML and JSON-lines files (4656, 4658, 4663) "
                    "and print the findings grouped by detection, then the handle-lifetime summary. "
                    "With no PATH, hunts over the bundled example events.",
    )
    hunt.add_argument("paths", nargs="*", metavar="PATH", help="files, directories or archives (default: the bundled examples)")
    for option, name in LIST_OPTIONS.items():
        hunt.add_argument(f"--{option.replace('_', '-')}", metavar="CSV",
                          help=f"use this CSV (the header of lookups/{name}.csv) instead of the shipped list")
    hunt.add_argument("--long-handle", type=float, metavar="SECONDS",
                      help="report handles open longer than this (default: the detection's threshold; "
                           "-1 lists every paired handle with its duration)")
    hunt.add_argument("--format", choices=["table", "json"], default="table",
                      help="table: grouped for reading; json: one finding per line, then the summary")
    hunt.add_argument("--sessions", action="store_true",
                      help="with --format json: also one line per handle session as it ends, {\"session\": {…}} "
                           "(the fields of mappings/session.yml)")
    hunt.add_argument("--limit", type=int, default=10, metavar="N", help="findings shown per detection in the table (default 10)")
    hunt.add_argument("--reorder-window", type=int, default=DEFAULT_WINDOW, metavar="EVENTS",
                      help=f"events held to restore time order (default {DEFAULT_WINDOW})")
    hunt.add_argument("--max-open-handles", type=int, default=DEFAULT_MAX_OPEN, metavar="N",
                      help=f"open handles remembered for pairing; past that the oldest is forgotten (default {DEFAULT_MAX_OPEN})")
    hunt.add_argument("--trace", type=_handle, metavar="HOST,PROCESSID,HANDLEID",
                      help="instead of hunting, list every 4656, 4663 and 4658 of this handle, oldest first "
                           "(e.g. WS01.contoso.local,0x1b30,0x2a4)")
    hunt.set_defaults(func=run_hunt)

    baseline = subparsers.add_parser(
        "baseline", help="learn an allow-list (detection 1) from known-good event files",
        description="Write every process path seen in 4658 events as an allow-list CSV for `hunt --allowlist` "
                    "and the Splunk lookup win4658_allowlist.csv.",
    )
    baseline.add_argument("paths", nargs="+", metavar="PATH", help="files, directories or archives of known-good events")
    baseline.add_argument("-o", "--output", default="-", metavar="CSV", help="output file (default: stdout)")
    baseline.add_argument("--per-host", action="store_true", help="one row per host and path (default: host * for every path)")
    baseline.set_defaults(func=run_baseline)


def _handle(text: str) -> Tuple[str, str, str]:
    parts = [part.strip() for part in text.split(",")]
    if len(parts) != 3 or not all(parts):
        raise argparse.ArgumentTypeError(f"expected HOST,PROCESSID,HANDLEID, got {text!r}")
    try:
        hex_to_int(parts[1])
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a process id: {parts[1]!r}") from None
    return parts[0], parts[1], parts[2]


def _lists(args: argparse.Namespace) -> Dict[str, DetectionList]:
    shipped = {detection.list.name: detection.list for detection in load_bundle() if detection.list}
    return {name: shipped[name].replaced_from(getattr(args, option))
            for option, name in LIST_OPTIONS.items() if getattr(args, option)}


def run_hunt(args: argparse.Namespace) -> int:
    if args.trace:
        return run_trace(args)
    try:
        hunt = Hunt(lists=_lists(args), long_handle_seconds=args.long_handle, window=args.reorder_window,
                    max_open_handles=args.max_open_handles, sessions=args.sessions and args.format == "json")
    except DefinitionError as error:
        print(f"win4658: {error}", file=sys.stderr)
        return 2
    shown: Dict[str, List[Finding]] = {}
    write = sys.stdout.buffer.write  # JSON lines as orjson writes them, compact
    for item in hunt.run(args.paths or EXAMPLE_FILES):
        if isinstance(item, RecordError):
            report_error(item)
        elif isinstance(item, Lifetime):
            write(ndjson_line({"session": session_record(item)}))
        elif args.format == "json":
            write(ndjson_line(item.as_dict()))
        elif len(shown.setdefault(item.detection, [])) < args.limit:
            shown[item.detection].append(item)
    if args.format == "json":
        write(ndjson_line({"summary": hunt.summary.as_dict()}))
    else:
        _print_table(hunt, shown)
    return 1 if hunt.summary.failed else 0


def _print_table(hunt: Hunt, shown: Dict[str, List[Finding]]) -> None:
    summary = hunt.summary
    for detection in hunt.detections:
        total = summary.findings.get(detection.id, 0)
        print(f"== {detection.number}. {detection.title}: {total} finding{'s' if total != 1 else ''}")
        findings = shown.get(detection.id, [])
        if findings:
            print("  " + " ".join(name.ljust(width) for name, width in COLUMNS) + " why")
            for finding in findings:
                print("  " + _row(finding))
            if total > len(findings):
                print(f"  … {total - len(findings)} more; by process:")
                for process, count in summary.processes[detection.id].most_common(5):
                    print(f"    {count:>7}  {process}")
        print()
    _print_lifetime(hunt.long_handle_seconds, summary)


def _row(finding: Finding) -> str:
    values = [finding.time, finding.host, finding.user, finding.process, finding.process_id, finding.handle_id]
    cells = [_fit(value, width) for value, (_name, width) in zip(values, COLUMNS)]
    details = finding.details or {}
    why = finding.reason + (f"; {details['object_type']} {details['object_name']}" if details.get("object_name") else "")
    return " ".join(cells) + " " + why


def _fit(value: Optional[str], width: int) -> str:
    text = "-" if value is None else str(value)
    return text.ljust(width) if len(text) <= width else "…" + text[-(width - 1):]


def _print_lifetime(threshold: float, summary: HuntSummary) -> None:
    lifetime = summary.lifetime
    print("== Handle lifetime")
    print(f"  closes {lifetime['closes']}, paired with their open {lifetime['paired']}, "
          f"unmatched {lifetime['unmatched_closes']}; opens {lifetime['opens']} "
          f"(reused before close {lifetime['opens_discarded_by_reuse']}, still open {lifetime['still_open']}, "
          f"failed or handle 0x0 {lifetime['opens_not_counted']}"
          + (f", forgotten over --max-open-handles {lifetime['opens_forgotten_over_limit']}"
             if lifetime["opens_forgotten_over_limit"] else "")
          + f"); long-handle threshold {threshold:g} s")
    by_process = sorted(lifetime["by_process"].items(), key=lambda item: -item[1]["handles"])[:10]
    if by_process:
        print(f"  {'handles':>8} {'mean s':>12} {'longest s':>12}  process")
        for process, stats in by_process:
            print(f"  {stats['handles']:>8} {stats['mean_seconds']:>12.3f} {stats['longest_seconds']:>12.3f}  {process}")
    skipped = ", ".join(f"{reason}: {count}" for reason, count in sorted(summary.skipped.items())) or "none"
    print(f"\nfiles: {summary.stats.files}, records read: {summary.stats.records}, events hunted: {summary.events}, "
          f"skipped: {skipped}" + (f", out of time order beyond the window: {summary.late_events}" if summary.late_events else ""))


def run_trace(args: argparse.Namespace) -> int:
    failed = False
    for item in trace_handle(args.paths or EXAMPLE_FILES, *args.trace, window=args.reorder_window):
        if isinstance(item, RecordError):
            report_error(item)
            failed = failed or item.fatal
            continue
        time, event = item
        row = _trace_row(event, format_ns(time) or event.system.get("TimeCreated"))
        if args.format == "json":
            sys.stdout.buffer.write(ndjson_line(row))
        else:
            print(" ".join(str(row.get(name) or "-") for name in ("time", "event_id", "user", "process", "access_mask",
                                                                 "object_type", "object_name")))
    return 1 if failed else 0


def _trace_row(event: Event, time: Optional[str]) -> dict:
    data = event.data
    return {"time": time, "event_id": event.event_id, "host": event.system.get("Computer"), "user": event_user(event),
            "process": event_process(event), "process_id": data.get("ProcessId"), "handle_id": data.get("HandleId"),
            "access_mask": data.get("AccessMask"), "object_type": data.get("ObjectType"),
            "object_name": data.get("ObjectName"), "source": str(event.origin)}


def run_baseline(args: argparse.Namespace) -> int:
    stats = ReadStats()
    failed = False
    for item in learn_allowlist(args.paths, per_host=args.per_host, stats=stats):
        if isinstance(item, RecordError):
            report_error(item)
            failed = failed or item.fatal
            continue
        text = item.to_csv()
        if args.output == "-":
            sys.stdout.write(text)
        else:
            with open(args.output, "w", encoding="utf-8", newline="") as stream:
                stream.write(text)
        print(f"learned {len(item.rows)} allow-list rows from {stats.records} records in {stats.files} files",
              file=sys.stderr)
    return 1 if failed else 0
