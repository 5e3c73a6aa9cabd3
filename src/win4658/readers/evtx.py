"""EVTX files through the `evtx` package (Rust), using its JSON output, which is several times faster than its XML."""

import io
import re
from typing import Iterator, Optional, Set

from ..event import Event, Origin, ReadResult, ReadStats, RecordError, parse_event_id
from .evtx_file import EvtxSource, damaged_chunks, single_chunk_file
from .jsonlines import JSON_ERRORS, RECORD_ERRORS, as_texts, loads
from .scan import search_from

try:
    from evtx import PyEvtxParser
except ImportError:  # evtx has no wheel for this interpreter: XML and JSON still work
    PyEvtxParser = None  # type: ignore[misc, assignment]  # read_evtx checks for None before any use

EVENT_ID_KEY = '"EventID":'
EVENT_ID_IN_JSON = re.compile(r'"EventID":\s*(?:\{[^}]*"#text":\s*)?(\d+)')
# How the evtx crate words a chunk it refused for its checksum (only when asked to verify checksums)
CHECKSUM_REFUSED = re.compile(r"Failed to parse chunk number (\d+): chunk data CRC32 invalid$")
FIRST_CHUNK = "Failed to parse chunk number 0:"


class EvtxUnavailable(RuntimeError):
    """The `evtx` package cannot be imported on this interpreter."""


def read_evtx(
    path: str, event_ids: frozenset, stats: ReadStats, source: Optional[EvtxSource] = None
) -> Iterator[ReadResult]:
    """The records of the EVTX file at ``path``, or of ``source`` (a seekable file, e.g. one out of an archive,
    named ``path`` in errors)."""
    if PyEvtxParser is None:
        raise EvtxUnavailable("reading EVTX needs the 'evtx' package, which is not installed for this Python")
    source = path if source is None else source
    reading = _Reading(path, source, event_ids, stats)
    try:
        records = _parsed(source, reading)
    except (RuntimeError, OSError, ValueError) as error:  # a header the parser refuses (a file cut short, garbage)
        yield RecordError(Origin(path, 0), "damaged", f"damaged EVTX file: {error}; nothing could be read", fatal=True)
        return
    yield from reading.results(records)
    yield from damaged_chunks(source, reading.refused_chunks, path)


def _parsed(source: EvtxSource, reading: "_Reading") -> Iterator[dict]:
    try:  # the parser verifies each chunk's checksums as it parses it (in its threads), far cheaper than here
        records = PyEvtxParser(source, validate_checksums=True).records_json()
        reading.refused_chunks = set()
    except TypeError:  # evtx 0.8.9 (Python 3.9) has no such option: damaged_chunks verifies every chunk
        records = PyEvtxParser(source).records_json()
    return records  # type: ignore[return-value]  # evtx's generated stub: __next__ -> Optional[Any]; it yields dicts


class _Reading:
    """One EVTX file being read: the record count for errors' origins, and the chunks the parser refused for their
    checksum (None when it does not verify checksums: then damaged_chunks computes every chunk's)."""

    def __init__(self, path: str, source: EvtxSource, event_ids: frozenset, stats: ReadStats):
        self.path = path
        self.source = source
        self.event_ids = event_ids
        self.stats = stats
        self.index = 0
        self.refused_chunks: Optional[Set[int]] = None

    def results(self, records: Iterator[dict], alone: Optional[int] = None) -> Iterator[ReadResult]:
        """The results of the parser's records; ``alone``: the number of the chunk they come from, parsed alone."""
        path, event_ids, stats = self.path, self.event_ids, self.stats
        while True:
            try:
                record = next(records)
            except StopIteration:
                return
            except (RuntimeError, OSError, ValueError) as error:
                message = str(error)
                refused = CHECKSUM_REFUSED.match(message) if alone is None else None
                if refused is not None and self.refused_chunks is not None:
                    # parsed again alone and unverified, it gives what a parser not verifying checksums gives
                    number = int(refused.group(1))
                    self.refused_chunks.add(number)
                    yield from self.results(_chunk_records(self.source, number), number)
                    continue
                if alone is not None:
                    message = message.replace(FIRST_CHUNK, f"Failed to parse chunk number {alone}:")
                # the Rust parser reports a damaged record or chunk and can go on with the next one
                self.index += 1
                stats.records += 1
                yield RecordError(Origin(path, self.index), "malformed", f"damaged EVTX record: {message}")
                continue
            self.index += 1
            stats.records += 1
            text = record["data"]
            if _event_id(text) not in event_ids:
                stats.other_event_id += 1
                continue
            origin = Origin(path, record["event_record_id"])
            try:
                yield evtx_json_to_event(loads(text), origin)
            except JSON_ERRORS + RECORD_ERRORS as error:
                yield RecordError(origin, "malformed", f"unexpected EVTX record layout: {error}")


def _chunk_records(source: EvtxSource, number: int) -> Iterator[dict]:
    return PyEvtxParser(io.BytesIO(single_chunk_file(source, number))).records_json()  # type: ignore[return-value]


def _event_id(text: str) -> Optional[int]:
    """The event id EVENT_ID_IN_JSON finds, sliced out directly when it is a plain number before a comma (the way
    the evtx crate writes it)."""
    start = text.find(EVENT_ID_KEY) + len(EVENT_ID_KEY)
    end = text.find(",", start)
    if start >= len(EVENT_ID_KEY) and end > start and text[start:end].isdecimal():
        return int(text[start:end])
    match = search_from(EVENT_ID_IN_JSON, EVENT_ID_KEY, text)
    return None if match is None else int(match.group(1))


def evtx_json_to_event(document: dict, origin: Origin) -> Event:
    event = document["Event"]
    source = event["System"]
    provider = _attributes(source.get("Provider"))
    execution = _attributes(source.get("Execution"))
    event_id = source["EventID"]
    system = {
        "Provider": provider.get("Name"),
        "ProviderGuid": _braced(provider.get("Guid")),
        "EventID": parse_event_id(event_id["#text"] if isinstance(event_id, dict) else event_id),
        "Version": source.get("Version"),
        "Level": source.get("Level"),
        "Task": source.get("Task"),
        "Opcode": source.get("Opcode"),
        "Keywords": source.get("Keywords"),
        "TimeCreated": _attributes(source.get("TimeCreated")).get("SystemTime"),
        "EventRecordID": source.get("EventRecordID"),
        "ProcessID": execution.get("ProcessID"),
        "ThreadID": execution.get("ThreadID"),
        "Channel": source.get("Channel"),
        "Computer": source.get("Computer"),
    }
    if None in system.values():  # rare: most records have every field
        system = {name: value for name, value in system.items() if value is not None}
    return Event(system, _event_data(event.get("EventData")), origin)


def _attributes(element: object) -> dict:
    return element.get("#attributes", {}) if isinstance(element, dict) else {}


def _braced(guid: object) -> object:
    """The evtx crate prints GUIDs bare; Windows XML braces them."""
    return f"{{{guid}}}" if isinstance(guid, str) and not guid.startswith("{") else guid


def _event_data(element: object) -> dict:
    """The record's own EventData object (parsed for this record alone), its values made text."""
    if not isinstance(element, dict):
        return {}
    element.pop("#attributes", None)
    return as_texts(element)
