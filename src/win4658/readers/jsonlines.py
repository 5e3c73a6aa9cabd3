"""JSON-lines in the shapes of real collections, detected per record.

- Winlogbeat 7+/8+ and Elastic Agent: ``winlog.event_data.*``, ``winlog.event_id`` or ``event.code``.
- Winlogbeat 6: ``event_data.*``, ``event_id``, ``computer_name`` at top level.
- NXLog im_msvistalog / OTRF exports: EventData fields flat at top level beside ``EventID``, ``Hostname``.
"""
import json
import re
from datetime import datetime, timedelta, timezone
from typing import BinaryIO, Callable, Dict, Iterator, Optional, Tuple

from ..event import Event, Origin, ReadResult, ReadStats, RecordError
from ..winlogbeat import FALLBACK_PATHS, SYSTEM_PATHS

try:
    import orjson

    loads: Callable = orjson.loads
    JSON_ERRORS: Tuple[type, ...] = (orjson.JSONDecodeError, ValueError)
except ImportError:  # the Splunk app ships without compiled accelerators
    loads = json.loads
    JSON_ERRORS = (ValueError,)

# NXLog's own fields (and what Logstash/OTRF add); every other top-level key is an EventData field.
NXLOG_SYSTEM_KEYS = frozenset({
    "@timestamp", "@version", "AccountName", "AccountType", "ActivityID", "Category", "Channel", "Domain",
    "ERROR_EVT_UNRESOLVED", "EventID", "EventReceivedTime", "EventTime", "EventType", "ExecutionProcessID",
    "Hostname", "Keywords", "Level", "Message", "Opcode", "OpcodeValue", "ProcessID", "ProviderGuid",
    "RecordNumber", "RelatedActivityID", "Severity", "SeverityValue", "SourceModuleName", "SourceModuleType",
    "SourceName", "Task", "ThreadID", "TimeCreated", "UserID", "Version", "host", "port", "tags",
})


# "YYYY-MM-DD hh:mm:ss" / "YYYY-MM-DDThh:mm:ss" in ASCII digits, by the separator the format puts between date and time
CANONICAL_TIME = {separator: re.compile(rf"[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}{separator}[0-9]{{2}}:[0-9]{{2}}:[0-9]{{2}}")
                  for separator in (" ", "T")}


# Where Winlogbeat 7+/Elastic Agent put each System field: the table the pipeline generator reads too.
WINLOGBEAT_KEYS = {field: tuple(path.split(".")) for field, path in SYSTEM_PATHS.items()}
WINLOGBEAT_FALLBACK_KEYS = {field: tuple(path.split(".")) for field, path in FALLBACK_PATHS.items()}


def read_jsonlines(stream: BinaryIO, path: str, event_ids: frozenset, stats: ReadStats) -> Iterator[ReadResult]:
    offset = 0
    for record, line in enumerate(stream, 1):
        origin = Origin(path, record, offset)
        offset += len(line)
        if not line.strip():
            continue
        stats.records += 1
        try:
            document = loads(line)
        except JSON_ERRORS as error:
            yield RecordError(origin, "malformed", f"invalid JSON: {error}")
            continue
        if not isinstance(document, dict):
            yield RecordError(origin, "malformed", "a JSON line must hold an object")
            continue
        try:
            event = document_to_event(document, origin, event_ids)
        except (KeyError, TypeError, ValueError) as error:
            yield RecordError(origin, "unrecognised", f"not a Windows event in a known JSON shape: {error}")
            continue
        if event is None:
            stats.other_event_id += 1
        else:
            yield event


def document_to_event(document: dict, origin: Origin, event_ids: frozenset) -> Optional[Event]:
    """The canonical Event of one JSON document, or None when its event id is not wanted."""
    if isinstance(document.get("winlog"), dict):
        convert = _from_winlogbeat
        event_id = document["winlog"].get("event_id") or document.get("event", {}).get("code")
    elif "event_data" in document or "event_id" in document:
        convert, event_id = _from_winlogbeat6, document.get("event_id")
    elif "EventID" in document:
        convert, event_id = _from_flat, document["EventID"]
    else:
        raise ValueError("no winlog, event_id or EventID field")
    event_id = int(event_id)
    if event_id not in event_ids:
        return None
    system, data = convert(document)
    system["EventID"] = event_id
    return Event(system, {name: value if value.__class__ is str else as_text(value) for name, value in data.items()}, origin)


def _from_winlogbeat(document: dict) -> Tuple[dict, dict]:
    system = {}
    for field, keys in WINLOGBEAT_KEYS.items():
        value = _dotted(document, keys)
        if value is None and field in WINLOGBEAT_FALLBACK_KEYS:
            value = _dotted(document, WINLOGBEAT_FALLBACK_KEYS[field])
        if value is not None:
            system[field] = value
    return system, document["winlog"].get("event_data") or {}


def _dotted(document: dict, keys: Tuple[str, ...]) -> object:
    node: object = document
    for key in keys:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def _from_winlogbeat6(document: dict) -> Tuple[dict, dict]:
    system = {
        "Provider": document.get("source_name"),
        "ProviderGuid": document.get("provider_guid"),
        "TimeCreated": document.get("@timestamp"),
        "EventRecordID": document.get("record_number"),
        "Channel": document.get("log_name"),
        "Computer": document.get("computer_name"),
        "Task": document.get("task"),
        "Opcode": document.get("opcode"),
        "Keywords": document.get("keywords"),
        "Version": document.get("version"),
        "ProcessID": document.get("process_id"),
        "ThreadID": document.get("thread_id"),
    }
    return _present(system), document.get("event_data") or {}


def _from_flat(document: dict) -> Tuple[dict, dict]:
    system = {
        "Provider": document.get("SourceName"),
        "ProviderGuid": document.get("ProviderGuid"),
        "TimeCreated": _flat_time(document),
        "EventRecordID": document.get("RecordNumber"),
        "Channel": document.get("Channel"),
        "Computer": document.get("Hostname"),
        "Task": document.get("Task"),
        "Opcode": document.get("OpcodeValue", document.get("Opcode")),
        "Keywords": _keywords_hex(document.get("Keywords")),
        "Level": document.get("Level"),
        "Version": document.get("Version"),
        "ProcessID": document.get("ExecutionProcessID", document.get("ProcessID")),
        "ThreadID": document.get("ThreadID"),
    }
    data = {key: value for key, value in document.items() if key not in NXLOG_SYSTEM_KEYS}
    return _present(system), data


def _flat_time(document: dict) -> Optional[str]:
    """When the event happened, in UTC.

    NXLog writes EventTime in the collector's local time without an offset; the offset is recovered from
    EventReceivedTime (same clock) against Logstash's @timestamp (UTC) for the same moment.
    """
    created = document.get("TimeCreated")
    if isinstance(created, str):
        return _as_utc_iso(created)
    event_time, received, stamp = document.get("EventTime"), document.get("EventReceivedTime"), document.get("@timestamp")
    if not (event_time and received and stamp):
        return stamp
    local_received = _strptime(received, "%Y-%m-%d %H:%M:%S")
    utc_received = _strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")
    quarter_hours = round((local_received - utc_received).total_seconds() / 900)
    utc_event = _strptime(event_time, "%Y-%m-%d %H:%M:%S") - timedelta(minutes=15 * quarter_hours)
    return utc_event.replace(tzinfo=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _strptime(text: str, time_format: str) -> datetime:
    """datetime.strptime(text, time_format) for the two formats above, several times faster on canonical text;
    anything else (or an impossible date) goes to strptime itself, which gives its own answer or error."""
    if CANONICAL_TIME[time_format[8]].fullmatch(text):
        try:
            return datetime(int(text[:4]), int(text[5:7]), int(text[8:10]), int(text[11:13]), int(text[14:16]), int(text[17:]))
        except ValueError:
            pass
    return datetime.strptime(text, time_format)


def _as_utc_iso(text: str) -> str:
    """'2020-10-18 10:56:14.646' (OTRF export, UTC) → '2020-10-18T10:56:14.646Z'; ISO input unchanged."""
    if "T" in text:
        return text
    return text.replace(" ", "T", 1) + "Z"


def _keywords_hex(keywords: object) -> object:
    """NXLog writes Keywords as a signed 64-bit integer; Windows XML writes it as hex."""
    if isinstance(keywords, int):
        return f"0x{keywords & 0xFFFFFFFFFFFFFFFF:x}"
    return keywords


def _present(fields: Dict[str, object]) -> dict:
    return {name: value for name, value in fields.items() if value is not None}


def as_text(value: object) -> str:
    """An EventData value as Windows XML would carry it: text; null is empty, structures stay JSON."""
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value) if isinstance(value, (dict, list)) else str(value)
