"""Windows event XML: one <Event>, one event per line, <Events>-wrapped, or Event Viewer's rendering.

The byte stream is cut into <Event>…</Event> records without parsing it as one document, so one broken
record costs only itself. A record in the plain shape Windows writes is read by one regular expression
(xml_plain); any other is parsed by a fresh expat parser that refuses DTDs and entity declarations: entities
are never expanded and nothing is ever fetched.
"""

import re
from typing import BinaryIO, Callable, Generator, Iterator, NoReturn, Optional, Tuple
from xml.parsers import expat

from ..event import (
    MAX_RECORD_BYTES,
    Event,
    Origin,
    ReadResult,
    ReadStats,
    RecordError,
    event_id_of_text,
    parse_event_id,
)
from ..windows import SYSTEM_FIELD_ATTRIBUTES, SYSTEM_TEXT_ELEMENTS
from .scan import search_from
from .xml_plain import PlainMatch, event_id_text, match_plain, parse_plain, plain_event, plain_text, record_span

BLOCK_SIZE = 1 << 20
END_TAG = re.compile(rb"</Event\s*>")
EVENT_ID_ELEMENT = re.compile(rb"<EventID[^>]*>([^<]*)<")
END_TAG_OVERLAP = 16  # bytes kept while skipping a record too large, to find an end tag cut by a block's end
START_TAG = re.compile(rb"<Event[\s>]")
# between records: white space, Event Viewer's "-", declarations and processing instructions, comments, <Events>
IGNORABLE_GAP = re.compile(rb"(?:\s|-|<\?[^>]*\?>|<!--.*?-->|</?Events\b[^>]*>)*", re.DOTALL)
DTD_MARKUP = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)
RENDERED_LINE = re.compile(rb"^[ \t]*- <", re.MULTILINE)


class UnsafeXml(ValueError):
    """The record declares a DTD or entities."""


def _refuse(*_args: object) -> NoReturn:
    raise UnsafeXml("DTD and entity declarations are not allowed")


class _EventBuilder:
    """expat callbacks that fill System and EventData dicts without building a tree."""

    def __init__(self) -> None:
        self.system: dict = {}
        self.data: dict = {}
        self.section: Optional[str] = None
        self.field: Optional[str] = None
        self.text: list = []

    def start(self, name: str, attrs: dict) -> None:
        if name in ("System", "EventData", "UserData"):
            self.section = name
        elif self.section == "System":
            if name in SYSTEM_FIELD_ATTRIBUTES:  # the layer's table, as xml_plain's expression reads it
                system = self.system
                for attribute, field, may_be_absent in SYSTEM_FIELD_ATTRIBUTES[name]:
                    if not may_be_absent:
                        system[field] = attrs.get(attribute)
                    elif attribute in attrs:
                        system[field] = attrs[attribute]
            if name in SYSTEM_TEXT_ELEMENTS:
                self.field, self.text = name, []
        elif self.section == "EventData" and name == "Data":
            self.field = attrs.get("Name") or f"Data{len(self.data)}"
            self.text = []
        elif self.section == "UserData" and not attrs:
            self.field, self.text = name, []

    def end(self, name: str) -> None:
        if name in ("System", "EventData", "UserData"):
            self.section = None
        elif self.field is not None and (name == "Data" or name == self.field):
            target = self.system if self.section == "System" else self.data
            target[self.field] = "".join(self.text)
            self.field = None

    def chars(self, text: str) -> None:
        if self.field is not None:
            self.text.append(text)


def parse_event_xml(record: bytes, origin: Origin, rendered: bool = False) -> Event:
    """Parse one <Event> element; raises ValueError (expat.ExpatError or UnsafeXml) on bad input."""
    builder = _EventBuilder()
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _refuse
    parser.EntityDeclHandler = _refuse
    parser.ExternalEntityRefHandler = _refuse
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.chars
    parser.Parse(record, True)
    system = builder.system
    if "EventID" not in system:
        raise ValueError("no System/EventID")
    system["EventID"] = parse_event_id(system["EventID"])
    data = builder.data
    if rendered:
        # Event Viewer and Microsoft's documentation print each backslash doubled.
        data = {name: value.replace("\\\\", "\\") for name, value in data.items()}
    return Event(system, data, origin)


def read_xml(
    stream: BinaryIO, path: str, event_ids: frozenset, stats: ReadStats, offset: int = 0
) -> Iterator[ReadResult]:
    """Yield the events (and record errors) of an XML byte stream, streaming in blocks."""
    buffer = b""
    buffer_offset = offset
    record = 0
    wanted = _event_id_filter(event_ids)
    skipping = False  # past a record too large, until its end tag
    for block in iter(lambda: stream.read(BLOCK_SIZE), b""):
        buffer += block
        position = 0
        if skipping:
            end = search_from(END_TAG, b"</Event", buffer)
            if end is None:
                buffer_offset += len(buffer) - END_TAG_OVERLAP
                buffer = buffer[-END_TAG_OVERLAP:]
                continue
            start = _last_start(buffer, 0, end.start())  # a record that starts before that end is read
            position, skipping = (start if start >= 0 else end.end()), False
        # a buffer past two blocks holds a record longer than a block: no plain one-line records to look for
        text = plain_text(buffer) if len(buffer) <= 2 * BLOCK_SIZE else None
        while True:
            if text is not None:
                position, record = yield from _plain_records(
                    text, buffer, position, record, path, buffer_offset, event_ids, stats
                )
            end = search_from(END_TAG, b"</Event", buffer, position)
            if end is None:
                break
            start = _last_start(buffer, position, end.start())
            gap = buffer[position:start] if start >= 0 else buffer[position : end.start()]
            problem = _gap_problem(gap, path, record + 1, buffer_offset + position)
            if problem is not None:
                record += 1
                stats.records += 1
                yield problem
                if problem.fatal:
                    return
            position = end.end()
            if start < 0:
                continue
            record += 1
            stats.records += 1
            if position - start > MAX_RECORD_BYTES:
                yield _too_large(Origin(path, record, buffer_offset + start), "skipped")
                continue
            chunk = buffer[start:position]
            if not wanted(chunk):
                stats.other_event_id += 1
            else:
                yield _parse_record(buffer, start, chunk, Origin(path, record, buffer_offset + start))
        if len(buffer) - position > MAX_RECORD_BYTES:
            record += 1
            stats.records += 1
            yield _too_large(
                Origin(path, record, buffer_offset + position), "no </Event> yet: skipped up to the next </Event>"
            )
            position, skipping = len(buffer) - END_TAG_OVERLAP, True
        buffer = buffer[position:]
        buffer_offset += position
    if skipping:
        return
    problem = _gap_problem(buffer, path, record + 1, buffer_offset)
    if problem is not None:
        stats.records += 1
        yield problem._replace(reason="truncated", message=f"incomplete <Event> at end of file: {problem.message}")


def _too_large(origin: Origin, skipped: str) -> RecordError:
    return RecordError(origin, "too large", f"record too large: more than {MAX_RECORD_BYTES >> 20} MiB; {skipped}")


def _plain_records(
    text: str,
    buffer: bytes,
    position: int,
    record: int,
    path: str,
    buffer_offset: int,
    event_ids: frozenset,
    stats: ReadStats,
) -> Generator[ReadResult, None, Tuple[int, int]]:
    """The run of plain records from ``position`` on, each matched once without cutting: they give what
    cutting them would (whitespace between them, none is rendered nor not wanted by the byte filter, which sees
    the same EventID). Returns where the run stops and the last record number."""
    match = match_plain(text, position)
    while match is not None:
        start, position = record_span(match)
        record += 1
        stats.records += 1
        if not _wanted(event_id_text(match), event_ids):
            stats.other_event_id += 1
        else:
            yield _plain_or_parsed(text, buffer, start, position, match, Origin(path, record, buffer_offset + start))
        match = match_plain(text, position)
    return position, record


def _plain_or_parsed(text: str, buffer: bytes, start: int, end: int, match: PlainMatch, origin: Origin) -> ReadResult:
    """A carriage return inside the record (which expat normalises) or the rendered form: expat reads it."""
    rendered = _rendered(buffer, start, end)
    event = None
    if not rendered and text.find("\r", start, end) < 0:
        event = plain_event(match, origin)
    return event if event is not None else _expat_record(buffer[start:end], origin, rendered)


def _event_id_filter(event_ids: frozenset) -> Callable[[bytes], bool]:
    """A cheap byte test that skips records whose EventID is not wanted, before any parsing (a record without an
    EventID, or with one that is not an event id, is parsed: the parser words the error)."""

    def wanted(chunk: bytes) -> bool:
        match = search_from(EVENT_ID_ELEMENT, b"<EventID", chunk)
        return match is None or _wanted(match.group(1), event_ids)

    return wanted


def _wanted(event_id: object, event_ids: frozenset) -> bool:
    """Whether a record with this EventID text is read: a wanted id, or no event id at all (an error to word)."""
    try:
        return event_id_of_text(event_id) in event_ids
    except ValueError:
        return True


def _last_start(buffer: bytes, low: int, high: int) -> int:
    """Offset of the last <Event …> start tag in buffer[low:high], or -1."""
    index = buffer.rfind(b"<Event", low, high)
    while index >= 0 and START_TAG.match(buffer, index, high) is None:
        index = buffer.rfind(b"<Event", low, index)
    return index


def _gap_problem(gap: bytes, path: str, record: int, offset: int) -> Optional[RecordError]:
    if not gap or gap.isspace():  # between one-line records: the common case, decided without a regex
        return None
    origin = Origin(path, record, offset)
    if DTD_MARKUP.search(gap):
        return RecordError(
            origin, "unsafe-xml", "DTD or entity declaration found: document rejected, nothing expanded", True
        )
    if IGNORABLE_GAP.fullmatch(gap):
        return None
    excerpt = gap.strip()[:60].decode("utf-8", "replace")
    return RecordError(origin, "malformed", f"not a complete <Event> record: {excerpt!r}")


def _rendered(buffer: bytes, start: int, end: int) -> bool:
    """Event Viewer's rendering: '- ' before the <Event> line or before a tag at the start of a line inside it
    (a line break is looked for first: one-line records have none, and '-' is frequent in them)."""
    line_start = buffer.rfind(b"\n", 0, start) + 1
    return buffer[line_start:start].strip() == b"-" or (
        buffer.find(b"\n", start, end) >= 0 and RENDERED_LINE.search(buffer, start, end) is not None
    )


def _parse_record(buffer: bytes, start: int, chunk: bytes, origin: Origin) -> ReadResult:
    rendered = _rendered(buffer, start, start + len(chunk))
    if not rendered:
        event = parse_plain(chunk, origin)
        if event is not None:
            return event
    return _expat_record(chunk, origin, rendered)


def _expat_record(chunk: bytes, origin: Origin, rendered: bool) -> ReadResult:
    try:
        return parse_event_xml(chunk, origin, rendered)
    except UnsafeXml as error:
        return RecordError(origin, "unsafe-xml", str(error))
    except (expat.ExpatError, ValueError) as error:
        return RecordError(origin, "malformed", f"invalid event XML: {error}")
