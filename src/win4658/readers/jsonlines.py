"""JSON-lines in the shapes of real collections, detected per record.

- Winlogbeat 7+/8+ and Elastic Agent: ``winlog.event_data.*``, ``winlog.event_id`` or ``event.code``.
- Winlogbeat 6: ``event_data.*``, ``event_id``, ``computer_name`` at top level.
- NXLog im_msvistalog / OTRF exports: EventData fields flat at top level beside ``EventID``, ``Hostname``.
"""

import json
from datetime import timedelta, timezone
from functools import partial
from typing import BinaryIO, Callable, Dict, Iterator, Optional, Tuple, Type

from ..event import (
    MAX_EVENT_ID,
    MAX_RECORD_BYTES,
    Event,
    Origin,
    ReadResult,
    ReadStats,
    RecordError,
    TimedEvent,
    check_system,
    check_system_value,
    event_id_of_text,
    parse_event_id,
)
from ..windows import (
    NXLOG_EVENT_ID_KEY,
    WINLOGBEAT6_EVENT_DATA_KEY,
    WINLOGBEAT6_EVENT_ID_KEY,
    WINLOGBEAT6_KEYS,
    WINLOGBEAT_EVENT_DATA_PATH,
    WINLOGBEAT_FALLBACK_PATHS,
    WINLOGBEAT_PATHS,
)
from ..windows import NXLOG_OWN_KEYS as NXLOG_SYSTEM_KEYS
from .jsonlines_fast import local_to_utc_fast, new_origin, nxlog_system, strptime, winlogbeat_system

try:
    import orjson

    loads: Callable = orjson.loads
    JSON_ERRORS: Tuple[Type[Exception], ...] = (orjson.JSONDecodeError, ValueError)
except ImportError:  # the Splunk app ships without compiled accelerators
    loads = json.loads
    JSON_ERRORS = (ValueError, RecursionError)  # json.loads recurses into nested values
# What a record's unexpected content can raise while it is turned into an Event (an NXLog time before year 1
# overflows datetime; a deeply nested value exhausts the encoder's recursion).
RECORD_ERRORS = (KeyError, TypeError, ValueError, ArithmeticError, RecursionError)

# Where Winlogbeat 7+/8+ keeps the event id (an object and its key; event.code when absent) and EventData
WINLOG, WINLOG_EVENT_ID = WINLOGBEAT_PATHS["EventID"].split(".")
EVENT, EVENT_CODE = WINLOGBEAT_FALLBACK_PATHS["EventID"].split(".")
EVENT_DATA_OBJECT, EVENT_DATA_KEY = WINLOGBEAT_EVENT_DATA_PATH.split(".")


def read_jsonlines(
    stream: BinaryIO, path: str, event_ids: frozenset, stats: ReadStats, offset: int = 0
) -> Iterator[ReadResult]:
    for record, line in enumerate(iter(partial(stream.readline, MAX_RECORD_BYTES + 1), b""), 1):
        origin = new_origin(Origin, (path, record, offset))
        offset += len(line)
        if len(line) > MAX_RECORD_BYTES and line[-1:] != b"\n":
            stats.records += 1
            offset += skip_line(stream)
            yield too_large(origin)
            continue
        if line.isspace():  # the same test as not line.strip(), without copying the line
            continue
        stats.records += 1
        try:
            document = loads(line)
        except JSON_ERRORS as error:
            yield RecordError(origin, "malformed", f"invalid JSON: {error}")
            continue
        if document.__class__ is not dict:
            yield RecordError(origin, "malformed", "a JSON line must hold an object")
            continue
        try:
            event = document_to_event(document, origin, event_ids)
        except RECORD_ERRORS as error:
            yield RecordError(origin, "unrecognised", f"not a Windows event in a known JSON shape: {error}")
            continue
        if event is None:
            stats.other_event_id += 1
        else:
            yield event


def skip_line(stream: BinaryIO) -> int:
    """Read past the end of the current line (or of the stream), a block at a time; the bytes skipped."""
    skipped = 0
    for block in iter(partial(stream.readline, MAX_RECORD_BYTES), b""):
        skipped += len(block)
        if block[-1:] == b"\n":
            break
    return skipped


def too_large(origin: Origin) -> RecordError:
    return RecordError(
        origin, "too large", f"record too large: more than {MAX_RECORD_BYTES >> 20} MiB without a line end; skipped"
    )


def document_to_event(document: dict, origin: Origin, event_ids: frozenset) -> Optional[Event]:
    """The canonical Event of one JSON document, or None when its event id is not wanted."""
    winlog = document.get(WINLOG)
    if winlog.__class__ is dict:
        convert = _from_winlogbeat
        event_id = winlog.get(WINLOG_EVENT_ID) or _event_code(document)
    elif WINLOGBEAT6_EVENT_DATA_KEY in document or WINLOGBEAT6_EVENT_ID_KEY in document:
        convert, event_id = _from_winlogbeat6, document.get(WINLOGBEAT6_EVENT_ID_KEY)
    elif NXLOG_EVENT_ID_KEY in document:
        convert, event_id = _from_flat, document[NXLOG_EVENT_ID_KEY]
    else:
        raise ValueError(f"no {WINLOG}, {WINLOGBEAT6_EVENT_ID_KEY} or {NXLOG_EVENT_ID_KEY} field")
    if event_id.__class__ is str:  # Winlogbeat's text
        event_id = event_id_of_text(event_id)
    elif event_id.__class__ is not int or not 0 <= event_id <= MAX_EVENT_ID:  # a JSON integer in range is one already
        event_id = parse_event_id(event_id)
    if event_id not in event_ids:
        return None
    system, data, nanoseconds = convert(document)
    system["EventID"] = event_id
    if nanoseconds is None:
        return Event(system, as_texts(data), origin)
    return TimedEvent(system, as_texts(data), origin, nanoseconds)


def _event_code(document: dict) -> object:
    event = document.get(EVENT)
    return event.get(EVENT_CODE) if event.__class__ is dict else None


def as_texts(data: dict) -> dict:
    """EventData as text values: the dict itself when they all are text already (the common case)."""
    if not isinstance(data, dict):
        raise TypeError(f"event data must be an object, not {type(data).__name__}")
    try:
        "".join(data.values())  # a TypeError names no field: it only says some value is not text
        return data
    except TypeError:
        return {name: value if value.__class__ is str else as_text(value) for name, value in data.items()}


# A document's System fields, its EventData and, when the reader wrote TimeCreated itself, its nanoseconds
Parts = Tuple[dict, dict, Optional[int]]


def _from_winlogbeat(document: dict) -> Parts:
    return winlogbeat_system(document), document[EVENT_DATA_OBJECT].get(EVENT_DATA_KEY) or {}, None


def _from_winlogbeat6(document: dict) -> Parts:
    system = {field: document.get(key) for field, key in WINLOGBEAT6_KEYS.items()}
    return check_system(_present(system)), document.get(WINLOGBEAT6_EVENT_DATA_KEY) or {}, None


def _from_flat(document: dict) -> Parts:
    system = nxlog_system(document)
    time_created, nanoseconds = _flat_time(document)
    if time_created is not None:
        if time_created.__class__ is not str:
            check_system_value("TimeCreated", time_created)
        system["TimeCreated"] = time_created
    keywords = document.get("Keywords")
    if keywords is not None:
        system["Keywords"] = keywords = _keywords_hex(keywords)
        if keywords.__class__ is not str:
            check_system_value("Keywords", keywords)
    data = {key: value for key, value in document.items() if key not in NXLOG_SYSTEM_KEYS}
    return system, data, nanoseconds


def _flat_time(document: dict) -> Tuple[object, Optional[int]]:
    """When the event happened, in UTC, and in nanoseconds when local_to_utc_fast wrote the time (it writes only
    "YYYY-MM-DDThh:mm:ssZ" of a real day and time: the event is a TimedEvent).

    NXLog writes EventTime in the collector's local time without an offset; the offset is recovered from
    EventReceivedTime (same clock) against Logstash's @timestamp (UTC) for the same moment.
    """
    created = document.get("TimeCreated")
    if isinstance(created, str):
        return _as_utc_iso(created), None
    event_time, received, stamp = (
        document.get("EventTime"),
        document.get("EventReceivedTime"),
        document.get("@timestamp"),
    )
    if not (event_time and received and stamp):
        return stamp, None
    utc = local_to_utc_fast(event_time, received, stamp)
    if utc is not None:
        return utc
    return _local_to_utc(event_time, received, stamp), None


def _local_to_utc(event_time: str, received: str, stamp: str) -> str:
    """The reference conversion (datetime arithmetic): gives the answer, or the error, for any text."""
    local_received = strptime(received, "%Y-%m-%d %H:%M:%S")
    utc_received = strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")
    quarter_hours = round((local_received - utc_received).total_seconds() / 900)
    utc_event = strptime(event_time, "%Y-%m-%d %H:%M:%S") - timedelta(minutes=15 * quarter_hours)
    return utc_event.replace(tzinfo=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


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
    return (
        value if isinstance(value, str) else json.dumps(value) if isinstance(value, (dict, list, bool)) else str(value)
    )
