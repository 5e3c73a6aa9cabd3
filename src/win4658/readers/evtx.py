"""EVTX files through the `evtx` package (Rust), using its JSON output, which is several times faster than its XML."""
import os
import re
import struct
import zlib
from typing import Iterator, List, Optional

from ..event import Event, Origin, ReadResult, ReadStats, RecordError
from .jsonlines import JSON_ERRORS, as_texts, loads
from .scan import search_from

try:
    from evtx import PyEvtxParser
except ImportError:  # evtx has no wheel for this interpreter: XML and JSON still work
    PyEvtxParser = None

FILE_HEADER_SIZE = 4096
CHUNK_SIZE = 65536
CHUNK_MAGIC = b"ElfChnk\x00"
EVENT_ID_KEY = '"EventID":'
EVENT_ID_IN_JSON = re.compile(r'"EventID":\s*(?:\{[^}]*"#text":\s*)?(\d+)')


class EvtxUnavailable(RuntimeError):
    """The `evtx` package cannot be imported on this interpreter."""


def read_evtx(path: str, event_ids: frozenset, stats: ReadStats) -> Iterator[ReadResult]:
    if PyEvtxParser is None:
        raise EvtxUnavailable("reading EVTX needs the 'evtx' package, which is not installed for this Python")
    records = PyEvtxParser(path).records_json()
    index = 0
    while True:
        index += 1
        try:
            record = next(records)
        except StopIteration:
            yield from damaged_chunks(path)
            return
        except (RuntimeError, OSError, ValueError) as error:
            # the Rust parser reports a damaged record or chunk and can go on with the next one
            stats.records += 1
            yield RecordError(Origin(path, index), "malformed", f"damaged EVTX record: {error}")
            continue
        stats.records += 1
        text = record["data"]
        if _event_id(text) not in event_ids:
            stats.other_event_id += 1
            continue
        origin = Origin(path, record["event_record_id"])
        try:
            yield evtx_json_to_event(loads(text), origin)
        except (*JSON_ERRORS, KeyError, TypeError) as error:
            yield RecordError(origin, "malformed", f"unexpected EVTX record layout: {error}")


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
        "EventID": int(event_id["#text"] if isinstance(event_id, dict) else event_id),
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


def damaged_chunks(path: str) -> List[RecordError]:
    """The chunks the parser had to skip without a word: truncated, overwritten or failing their checksum.

    An EVTX file is a 4 KiB header and 64 KiB chunks of records; the Rust parser silently drops a chunk it
    cannot use, so each chunk is checked here and every loss is reported with the records it held.
    """
    size = os.path.getsize(path)
    with open(path, "rb") as stream:
        header = stream.read(FILE_HEADER_SIZE)
        declared = struct.unpack_from("<H", header, 42)[0] if len(header) >= 44 else 0
        present = max(0, (size - FILE_HEADER_SIZE + CHUNK_SIZE - 1) // CHUNK_SIZE)
        errors = []
        for number in range(max(declared, present)):
            offset = FILE_HEADER_SIZE + number * CHUNK_SIZE
            stream.seek(offset)
            problem = _chunk_problem(stream.read(CHUNK_SIZE))
            if problem is not None:
                errors.append(RecordError(Origin(path, 0, offset), "damaged", f"EVTX chunk {number}: {problem}"))
    return errors


def _chunk_problem(chunk: bytes) -> object:
    if not chunk:
        return "missing: the file ends before this chunk (truncated); its records are lost"
    if not chunk.startswith(CHUNK_MAGIC):
        return None if chunk.count(0) == len(chunk) else "no chunk signature: its records could not be read"
    first_id, last_id = struct.unpack_from("<QQ", chunk, 24)
    held = f"records {first_id}-{last_id}"
    if len(chunk) < CHUNK_SIZE:
        return f"truncated after {len(chunk)} of {CHUNK_SIZE} bytes: {held} may be incomplete"
    free_space = struct.unpack_from("<I", chunk, 48)[0]
    records_crc = struct.unpack_from("<I", chunk, 52)[0]
    if 512 <= free_space <= CHUNK_SIZE and zlib.crc32(chunk[512:free_space]) != records_crc:
        return f"checksum mismatch: {held} are damaged and some were skipped"
    return None
