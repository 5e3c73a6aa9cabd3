"""What `win4658 hunt` writes: the triage table, the JSON of today, and the timeline as JSON lines or CSV; with
--sessions, the handle sessions beside them.

Each writer takes the findings as the hunt yields them (``add``) and finishes with the summary (``close``).
The timeline forms (csv, jsonl) hold findings only, in the order found (time order, within the hunt's window);
the handle trace's drill-downs are left to json, the table and the HTML report. The handle sessions go, as they
end, to json's lines and the table's overview (``add_session``), or to a file of their own: CSV (ECS names of
mappings/session.yml) or NDJSON (the documents of `convert --to sessions`).
"""

import csv
import math
import os
import shutil
import sys
from typing import IO, Any, Dict, List, Optional, Union

from ..detections.definitions import Detection, severity_rank
from ..detections.engine import Finding
from ..detections.lifetime import Lifetime
from ..detections.local_hunt import Hunt
from ..sessions.fields import session_spec, to_ecs
from ..sessions.line import session_line
from ..sessions.overview import SessionOverview
from ..sessions.stream import EndedSession
from ..windows import hex_to_int
from .common import ndjson_line

ELLIPSIS = "…"
CSV_COLUMNS = [
    "time",
    "host",
    "user",
    "detection",
    "number",
    "severity",
    "mitre",
    "process",
    "pid",
    "pid_hex",
    "handle",
    "object_type",
    "object_name",
    "duration_seconds",
    "reason",
    "source_file",
    "source_record",
]


class JsonWriter:
    """json: one finding per line as found (drill-downs marked; with --sessions each handle session as it ends),
    then the summary."""

    def __init__(self, output: IO[bytes], hunt: Hunt, limit: int):
        self.write = output.write
        self.hunt = hunt

    def add(self, finding: Finding) -> None:
        self.write(ndjson_line(self.hunt.document(finding)))

    def add_session(self, session: EndedSession) -> None:
        self.add_session_line(session.lifetime)

    def add_session_line(self, lifetime: Lifetime) -> None:
        self.write(session_line(lifetime))

    def close(self) -> None:
        self.write(ndjson_line({"summary": self.hunt.summary.as_dict()}))


class JsonLinesWriter:
    """jsonl: the timeline, one finding per line, nothing else (never given handle sessions, unlike JsonWriter)."""

    def __init__(self, output: IO[bytes], hunt: Hunt, limit: int):
        self.write = output.write
        self.hunt = hunt
        self.drilldowns = {detection.id for detection in hunt.detections if detection.drilldown}

    def add(self, finding: Finding) -> None:
        if finding.detection not in self.drilldowns:
            self.write(ndjson_line(self.hunt.document(finding)))

    def close(self) -> None:
        pass


class CsvWriter:
    """csv: the timeline for a spreadsheet, one finding per row."""

    def __init__(self, output: IO[str], hunt: Hunt, limit: int):
        self.rows = csv.writer(output, lineterminator="\n")
        self.rows.writerow(CSV_COLUMNS)
        self.detections = {detection.id: detection for detection in hunt.detections}

    def add(self, finding: Finding) -> None:
        detection = self.detections[finding.detection]
        if not detection.drilldown:
            self.rows.writerow(csv_row(finding, detection))

    def close(self) -> None:
        pass


def csv_row(finding: Finding, detection: Detection) -> List[object]:
    details = finding.details or {}
    pid = _number(finding.process_id)
    origin = finding.origin
    values = [
        finding.time,
        finding.host,
        finding.user,
        detection.id,
        detection.number,
        detection.severity,
        " ".join(detection.attack_ids),
        finding.process,
        pid,
        None if pid is None else hex(pid),
        finding.handle_id,
        details.get("object_type"),
        details.get("object_name"),
        details.get("duration_seconds"),
        finding.reason,
        origin and origin.path,
        origin and origin.record,
    ]
    return ["" if value is None else spreadsheet_text(value) for value in values]


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_text(value: Any) -> Any:
    """A text from the logs that a spreadsheet would run as a formula (``=HYPERLINK(...)`` as an object name), quoted
    with a leading apostrophe as OWASP advises; numbers, other texts and ``-`` unchanged."""
    if value.__class__ is not str or not value.startswith(FORMULA_STARTS) or value == "-":
        return value
    try:
        float(value)
        return value
    except ValueError:
        return "'" + value


def _number(process_id: Optional[str]) -> Optional[int]:
    try:
        return None if process_id is None else hex_to_int(process_id)
    except ValueError:
        return None


class TableWriter:
    """table: the summary first, then each detection's first ``limit`` findings, the most severe first."""

    def __init__(self, output: IO[str], hunt: Hunt, limit: int):
        self.output = output
        self.hunt = hunt
        self.limit = limit
        self.shown: Dict[str, List[Finding]] = {}
        self.sessions = SessionOverview(limit) if hunt.sessions else None

    def add(self, finding: Finding) -> None:
        shown = self.shown.setdefault(finding.detection, [])
        if len(shown) < self.limit:
            shown.append(finding)

    def add_session(self, session: EndedSession) -> None:
        self.sessions.add(session.record, session.origin)  # type: ignore[union-attr]  # given sessions only when the hunt makes them

    def close(self) -> None:
        width = table_width(self.output)
        lines = summary_lines(self.hunt)
        for detection in triage_order(self.hunt.detections):
            lines += self._detection_lines(detection, width)
        lines += lifetime_lines(self.hunt)
        if self.sessions is not None:
            lines += session_lines(self.sessions, width)
        self.output.write("".join(_fit(line, width).rstrip() + "\n" for line in lines))

    def _detection_lines(self, detection: Detection, width: Optional[int]) -> List[str]:
        summary = self.hunt.summary
        counts = summary.drilldowns if detection.drilldown else summary.findings
        total = counts.get(detection.id, 0)
        noun = (
            ("handle" if total == 1 else "handles") + " traced (a drill-down, not counted as findings)"
            if detection.drilldown
            else "finding"
            if total == 1
            else "findings"
        )
        level = "drill-down" if detection.drilldown else detection.severity
        lines = [
            f"== [{level}] {detection.number}. {detection.title}: {total} {noun}"
            + (f"  ATT&CK {' '.join(detection.attack_ids)}" if detection.attack_ids else "")
        ]
        findings = self.shown.get(detection.id, [])
        if findings:
            columns = layout(width)
            lines.append("  " + " ".join(_fit(name, size) for name, size in columns).rstrip())
            lines += ["  " + _row(finding, detection, columns) for finding in findings]
            if total > len(findings):
                lines.append(f"  … {total - len(findings)} more; by process:")
                lines += [
                    f"    {count:>7}  {process}" for process, count in summary.processes[detection.id].most_common(5)
                ]
        return lines + [""]


def triage_order(detections: List[Detection]) -> List[Detection]:
    """The most severe detections first, the drill-down after every finding."""
    return sorted(
        detections, key=lambda detection: (detection.drilldown, severity_rank(detection.severity), detection.number)
    )


def summary_lines(hunt: Hunt) -> List[str]:
    summary = hunt.summary
    total = sum(summary.findings.values())
    severities = ", ".join(f"{severity} {count}" for severity, count in summary.severities().items())
    lines = [
        "== Summary",
        f"  findings: {total}"
        + (f" ({severities})" if severities else "")
        + f"; handles traced (drill-down): {sum(summary.drilldowns.values())}",
    ]
    for detection in triage_order(hunt.detections):
        if not detection.drilldown:
            lines.append(
                f"    {summary.findings.get(detection.id, 0):>7}  {detection.severity:<8} "
                f"{detection.number}. {detection.title}"
            )
    hosts = summary.hosts.most_common()
    shown_hosts = ", ".join(f"{host or '(unknown)'} ({events:,})" for host, events in hosts[:5])
    lines.append(
        f"  hosts: {len(hosts)}"
        + (f": {shown_hosts}" if hosts else "")
        + (f", … {len(hosts) - 5} more" if len(hosts) > 5 else "")
    )
    first, last = summary.time_range()
    lines.append(f"  time range: {first or '-'} to {last or '-'}")
    skipped = ", ".join(f"{reason}: {count}" for reason, count in sorted(summary.skipped.items())) or "none"
    lines.append(
        f"  files: {summary.stats.files}, records read: {summary.stats.records}, events hunted: "
        f"{summary.events}, skipped: {skipped}"
        + (f", out of time order beyond the window: {summary.late_events}" if summary.late_events else "")
    )
    if summary.stats.files and not summary.stats.records:
        lines.append("  no records were read: are these event files?")
    return lines + [""]


def lifetime_lines(hunt: Hunt) -> List[str]:
    lifetime = hunt.summary.lifetime
    lines = [
        "== Handle lifetime",
        f"  closes {lifetime['closes']}, paired with their open {lifetime['paired']}, "
        f"unmatched {lifetime['unmatched_closes']}",
        f"  opens {lifetime['opens']} "
        f"(reused before close {lifetime['opens_discarded_by_reuse']}, still open {lifetime['still_open']}, "
        f"failed or handle 0x0 {lifetime['opens_not_counted']}"
        + (
            f", forgotten over --max-open-handles {lifetime['opens_forgotten_over_limit']}"
            if lifetime["opens_forgotten_over_limit"]
            else ""
        )
        + ")",
        f"  long-handle threshold {hunt.long_handle_seconds:g} s",
    ]
    by_process = sorted(lifetime["by_process"].items(), key=lambda item: -item[1]["handles"])[:10]
    if by_process:
        lines.append(f"  {'handles':>8} {'mean s':>12} {'longest s':>12}  process")
        lines += [
            f"  {stats['handles']:>8} {stats['mean_seconds']:>12.3f} {stats['longest_seconds']:>12.3f}  {process}"
            for process, stats in by_process
        ]
    return lines


SHOWN_OBJECT_TYPES = 8


def session_lines(sessions: SessionOverview, width: Optional[int]) -> List[str]:
    """The sessions by ending and object type, then the longest (as many as --limit); on a terminal (``width``)
    the time, host and process in columns, cut to fit."""
    endings = ", ".join(f"{ending.replace('_', ' ')} {count:,}" for ending, count in sessions.ending_counts())
    types = sessions.by_object_type()
    shown_types = ", ".join(f"{name} {counts.sessions:,}" for name, counts in types[:SHOWN_OBJECT_TYPES])
    lines = [
        "",
        f"== Handle sessions: {sessions.total:,}",
        f"  {endings}",
        f"  object types: {len(types)}"
        + (f": {shown_types}" if types else "")
        + (f", … {len(types) - SHOWN_OBJECT_TYPES} more" if len(types) > SHOWN_OBJECT_TYPES else ""),
    ]
    longest = sessions.longest()
    if longest:
        lines.append(f"  the {len(longest)} longest of {sessions.with_duration:,} with a duration:")
        sizes = SESSION_COLUMNS if width is not None else (None,) * len(SESSION_COLUMNS)
        heading = " ".join(_fit(name, size) for name, size in zip(SESSION_HEADINGS, sizes))
        lines.append(f"  {'seconds':>12} {heading} object, access requested")
        lines += [_session_row(record, sizes) for record, _origin in longest]
    return lines


SESSION_HEADINGS = ("opened", "host", "process", "pid", "handle")
SESSION_COLUMNS = (27, 16, 16, 7, 8)  # their widths on a terminal


def _session_row(record: Dict[str, Any], sizes: tuple) -> str:
    requested = " ".join(record.get("access_requested", ()))
    what = " ".join(str(part) for part in (record.get("object_type"), record.get("object_name")) if part)
    values = (
        record.get("start"),
        record.get("host"),
        record.get("process_name"),
        record["process_id_hex"],
        record["handle_id"],
    )
    cells = " ".join(_fit(value, size, host=index == 1) for index, (value, size) in enumerate(zip(values, sizes)))
    return f"  {record['duration_seconds']:>12,.3f} {cells} {what or '-'}" + (f" [{requested}]" if requested else "")


class SessionCsvWriter:
    """The handle sessions for a spreadsheet, one row each as it ends: the fields of mappings/session.yml under
    their ECS names (names joined with spaces), then where its last event was read."""

    def __init__(self, output: IO[str]):
        fields = session_spec()["fields"]
        self.names = [field["name"] for field in fields]
        self.lists = [(self.names.index(name), name) for name in SESSION_LIST_FIELDS]
        self.writerow = csv.writer(output, lineterminator="\n").writerow  # None is written as an empty cell
        self.writerow([field["ecs"] for field in fields] + SESSION_SOURCE_COLUMNS)
        self.count = 0

    def add_session(self, session: EndedSession) -> None:
        self.count += 1
        record, origin = session.record, session.origin
        row = list(map(record.get, self.names))
        for index, name in self.lists:
            if name in record:
                row[index] = " ".join(record[name])
        row += origin.path, origin.record
        self.writerow(list(map(spreadsheet_text, row)))


SESSION_SOURCE_COLUMNS = ["source_file", "source_record"]
SESSION_LIST_FIELDS = ("access_requested", "access_used", "privileges")  # the record's lists (sessions.record)


class SessionNdjsonWriter:
    """The handle sessions as `win4658 convert --to sessions` writes them: one ECS document per line."""

    def __init__(self, output: IO[bytes]):
        self.write = output.write
        self.count = 0

    def add_session(self, session: EndedSession) -> None:
        self.count += 1
        self.write(ndjson_line(to_ecs(session.record)))


# name, preferred width, narrowest width; "why" takes what is left
COLUMNS = [
    ("time", 27, 27),
    ("severity", 10, 10),
    ("host", 22, 12),
    ("user", 22, 12),
    ("process", 60, 20),
    ("pid", 8, 6),
    ("handle", 8, 6),
    ("att&ck", 9, 9),
]
DROPPED_FIRST = ("att&ck", "user", "handle", "pid", "severity")  # when even the narrowest widths do not fit
WHY_WIDTH = 24


def table_width(output: IO[str]) -> Optional[int]:
    """The terminal's width when writing to one (or COLUMNS is set), else None: a file gets whole values."""
    if os.environ.get("COLUMNS") or (output is sys.stdout and output.isatty()):
        return shutil.get_terminal_size().columns
    return None


def layout(width: Optional[int]) -> List[tuple]:
    """Column widths for a table ``width`` wide: preferred widths, shrunk toward the narrowest to fit, then
    the least needed columns left out (the heading above still gives severity and ATT&CK)."""
    if width is None:
        return [(name, size) for name, size, _least in COLUMNS] + [("why", None)]
    columns = list(COLUMNS)
    for dropped in (None, *DROPPED_FIRST):
        columns = [column for column in columns if column[0] != dropped]
        sizes = _shrunk(columns, width - 2 - len(columns) - WHY_WIDTH)  # the indent, a space after each column
        if sizes is not None:
            break
    else:  # narrower than the narrowest table: lines wrap
        sizes = [(name, least) for name, _size, least in columns]
    used = 2 + sum(size + 1 for _name, size in sizes)
    return sizes + [("why", max(width - used, WHY_WIDTH))]


def _shrunk(columns: List[tuple], room: int) -> Optional[List[tuple]]:
    """Each column shrunk in proportion to how far it can shrink, or None when even the narrowest do not fit."""
    excess = sum(size for _name, size, _least in columns) - room
    slack = sum(size - least for _name, size, least in columns)
    if excess > slack:
        return None
    share = max(excess, 0) / slack if slack else 0
    return [(name, size - math.ceil((size - least) * share)) for name, size, least in columns]


def _row(finding: Finding, detection: Detection, columns: List[tuple]) -> str:
    details = finding.details or {}
    why = finding.reason + (
        f"; {details['object_type']} {details['object_name']}" if details.get("object_name") else ""
    )
    values = {
        "time": finding.time,
        "severity": "drill-down" if detection.drilldown else detection.severity,
        "host": finding.host,
        "user": finding.user,
        "process": finding.process,
        "pid": finding.process_id,
        "handle": finding.handle_id,
        "att&ck": " ".join(_techniques(detection)),
        "why": why,
    }
    return " ".join(_fit(values[name], size, host=name == "host") for name, size in columns).rstrip()


def _techniques(detection: Detection) -> List[str]:
    return [attack_id for attack_id in detection.attack_ids if not attack_id.startswith("TA")]


def _fit(value: Optional[object], width: Optional[int], host: bool = False) -> str:
    """The value in ``width`` characters: padded, or cut on the right with an ellipsis (None: as it is).
    A host name too long keeps its first label whole where it fits (WS01 rather than WS01.conto…)."""
    text = "-" if value is None else str(value)
    if width is None:
        return text
    if host and len(text) > width and len(text.split(".", 1)[0]) <= width:
        text = text.split(".", 1)[0]
    return text.ljust(width) if len(text) <= width else text[: width - 1] + ELLIPSIS


WRITERS = {"table": TableWriter, "json": JsonWriter, "jsonl": JsonLinesWriter, "csv": CsvWriter}
TEXT_FORMATS = ("table", "csv")
SessionFileWriter = Union[SessionCsvWriter, SessionNdjsonWriter]
INLINE_SESSIONS = ("table", "json")  # the formats whose output shows the sessions (json: unless --sessions-out)
# the form of the sessions' own file, by --format
SESSION_FILES = {
    "table": ("csv", SessionCsvWriter),
    "csv": ("csv", SessionCsvWriter),
    "json": ("jsonl", SessionNdjsonWriter),
    "jsonl": ("jsonl", SessionNdjsonWriter),
}
