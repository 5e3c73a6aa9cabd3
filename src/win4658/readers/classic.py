"""Splunk's classic WinEventLog text (renderXml=false): a header line with the local time, key=value
lines, then Message= with the rendered, indented description whose labels depend on their section."""

import re
from datetime import datetime
from functools import partial
from typing import BinaryIO, Dict, Iterator, List, Optional

from ..event import MAX_RECORD_BYTES, Event, Origin, ReadResult, ReadStats, RecordError, parse_event_id
from ..windows import CLASSIC_LABELS as LABELS
from .jsonlines import skip_line

RECORD_START = re.compile(r"^\d{2}/\d{2}/\d{4} \d{2}:\d{2}:\d{2} [AP]M\s*$")
HEADER_LINE = re.compile(r"^(\w+)=(.*)$")
LABEL_LINE = re.compile(r"^\s+([^:\t][^:]*?):\s*(.*?)\s*$")
SECTION_LINE = re.compile(r"^(\S[^:]*?)\s*:\s*$")


def read_classic(
    stream: BinaryIO, path: str, event_ids: frozenset, stats: ReadStats, offset: int = 0
) -> Iterator[ReadResult]:
    lines: List[str] = []
    size = 0  # of the record's lines: past MAX_RECORD_BYTES they are no longer kept
    record = 0
    start = offset
    for raw in iter(partial(stream.readline, MAX_RECORD_BYTES + 1), b""):
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if size and RECORD_START.match(line):
            record += 1
            yield from _emit(lines, size, Origin(path, record), start, event_ids, stats)
            lines, size, start = [], 0, offset
        offset += len(raw)
        size += len(raw)
        if len(raw) > MAX_RECORD_BYTES and raw[-1:] != b"\n":
            skipped = skip_line(stream)
            offset += skipped
            size += skipped
        if size <= MAX_RECORD_BYTES:
            lines.append(line)
    if size > MAX_RECORD_BYTES or any(line.strip() for line in lines):
        record += 1
        yield from _emit(lines, size, Origin(path, record), start, event_ids, stats)


def _emit(
    lines: List[str], size: int, origin: Origin, offset: int, event_ids: frozenset, stats: ReadStats
) -> Iterator[ReadResult]:
    stats.records += 1
    if size > MAX_RECORD_BYTES:
        yield RecordError(
            origin._replace(offset=offset),
            "too large",
            f"record too large: more than {MAX_RECORD_BYTES >> 20} MiB before the next record; skipped",
        )
        return
    try:
        event = parse_classic(lines, origin)
    except ValueError as error:
        yield RecordError(origin, "malformed", f"not a WinEventLog record: {error}")
        return
    if event.event_id in event_ids:
        yield event
    else:
        stats.other_event_id += 1


def parse_classic(lines: List[str], origin: Origin) -> Event:
    if not RECORD_START.match(lines[0]):
        raise ValueError(f"expected a 'MM/DD/YYYY hh:mm:ss AM' line, got {lines[0][:40]!r}")
    header: Dict[str, str] = {}
    message_at = len(lines)
    for index, line in enumerate(lines[1:], 1):
        match = HEADER_LINE.match(line)
        if match:
            header[match.group(1)] = match.group(2)
            if match.group(1) == "Message":
                message_at = index
                break
    if "EventCode" not in header:
        raise ValueError("no EventCode= line")
    system = {
        "EventID": parse_event_id(header["EventCode"]),
        # Splunk prints the forwarder's local time with no zone and no fraction: read as UTC.
        "TimeCreated": datetime.strptime(lines[0].strip(), "%m/%d/%Y %I:%M:%S %p").strftime("%Y-%m-%dT%H:%M:%SZ"),
        "Channel": header.get("LogName"),
        "Computer": header.get("ComputerName"),
        "EventRecordID": header.get("RecordNumber"),
        "Task": header.get("TaskCategory"),
        "Opcode": header.get("OpCode"),
        "Keywords": header.get("Keywords"),  # rendered ("Audit Success"), as Winlogbeat sends it
        "Provider": "Microsoft-Windows-Security-Auditing"
        if header.get("LogName") == "Security"
        else header.get("SourceName"),
    }
    system = {name: value for name, value in system.items() if value is not None}
    return Event(system, _message_fields(lines[message_at + 1 :]), origin)


def _message_fields(lines: List[str]) -> Dict[str, str]:
    data: Dict[str, str] = {}
    section: Optional[str] = None
    for line in lines:
        heading = SECTION_LINE.match(line)
        if heading:
            section = heading.group(1)
            continue
        field = LABEL_LINE.match(line)
        if field and section is not None:
            name = LABELS.get((section, field.group(1).strip()))
            if name is not None and name not in data:
                data[name] = field.group(2)
    return data
