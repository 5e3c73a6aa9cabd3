"""Benchmark inputs built from the shared corpus: nothing here is committed, everything is rebuilt on demand.

    python benchmarks/datagen.py jsonl 1000000 events.jsonl    # sampled events, Winlogbeat 8 and NXLog shapes
    python benchmarks/datagen.py paired 1000000 paired.jsonl   # events whose handles pair as in a real log
    python benchmarks/datagen.py xml 200000 events.xml         # sampled events, one XML event per line
    python benchmarks/datagen.py evtx 256 security.evtx        # an EVTX of at least 256 MiB of corpus chunks

- ``build_evtx``: a large EVTX made by repeating the 64 KiB chunks of a corpus EVTX behind its 4 KiB header,
  with the header's chunk count, last chunk number and CRC32 set and the dirty flag cleared.
- ``build_xml`` / ``build_jsonlines``: event XML (one event per line) and JSON-lines (Winlogbeat 8 and NXLog flat
  shapes), each event's fields sampled independently from the values the corpus really holds.
- ``paired_events``: JSON-lines events whose handles open, are used and close as in a real log (handle sessions).
"""

import argparse
import os
import random
import sys
from datetime import datetime, timedelta
from typing import Dict, Iterator, List, Sequence
from xml.sax.saxutils import escape, quoteattr

import orjson

from win4658.event import SUPPORTED_EVENT_IDS, Event, Origin
from win4658.readers import read_paths
from win4658.readers.evtx_file import CHUNK_MAGIC, CHUNK_SIZE, FILE_HEADER_SIZE, file_header
from win4658.winlogbeat import to_winlogbeat

EVENT_NAMESPACE = "http://schemas.microsoft.com/win/2004/08/events/event"
NXLOG_UTC_OFFSET = timedelta(hours=4)  # a collector at UTC-4, as in the OTRF datasets
LINE_BREAKS = {"\n": "&#10;", "\r": "&#13;"}  # keeps one event per line; expat turns them back into text


def evtx_chunks(path: str) -> List[bytes]:
    """The used chunks of an EVTX file (unused, zeroed chunk slots are left out)."""
    with open(path, "rb") as stream:
        stream.seek(FILE_HEADER_SIZE)
        chunks = []
        for chunk in iter(lambda: stream.read(CHUNK_SIZE), b""):
            if chunk.startswith(CHUNK_MAGIC):
                chunks.append(chunk)
    return chunks


def build_evtx(source: str, target: str, min_bytes: int) -> int:
    """Write an EVTX of at least ``min_bytes`` by repeating ``source``'s chunks; returns the chunk count."""
    chunks = evtx_chunks(source)
    repeats = max(1, -(-(min_bytes - FILE_HEADER_SIZE) // (CHUNK_SIZE * len(chunks))))
    chunk_count = repeats * len(chunks)
    if chunk_count > 0xFFFF:
        raise ValueError(f"an EVTX holds at most 65535 chunks, {chunk_count} asked")
    with open(source, "rb") as stream:
        header = file_header(stream.read(FILE_HEADER_SIZE), chunk_count)
    with open(target, "wb") as output:
        output.write(header)
        for _ in range(repeats):
            for chunk in chunks:
                output.write(chunk)
    return chunk_count


class ValuePool:
    """Every distinct value each field takes in the corpus, per event id, to sample events from."""

    def __init__(self, events: Sequence[Event]):
        self.system: Dict[int, Dict[str, list]] = {}
        self.data: Dict[int, Dict[str, list]] = {}
        for event in events:
            for section, fields in ((self.system, event.system), (self.data, event.data)):
                pool = section.setdefault(event.event_id, {})
                for name, value in fields.items():
                    pool.setdefault(name, set()).add(value if not isinstance(value, list) else tuple(value))
        for section in (self.system, self.data):
            for pool in section.values():
                for name in pool:
                    pool[name] = sorted(pool[name], key=repr)
        self.event_ids = sorted(self.data)
        self.weights = [sum(1 for event in events if event.event_id == event_id) for event_id in self.event_ids]

    def sample(self, rng: random.Random, record_id: int) -> Event:
        event_id = rng.choices(self.event_ids, self.weights)[0]
        system = {name: rng.choice(values) for name, values in self.system[event_id].items()}
        system.update(
            EventID=event_id,
            EventRecordID=str(record_id),
            Keywords="0x8020000000000000",
            TimeCreated=f"2026-11-{1 + record_id % 28:02d}T{record_id % 24:02d}:{record_id % 60:02d}:"
            f"{(record_id // 60) % 60:02d}.{record_id % 1000000:06d}Z",
        )
        data = {name: rng.choice(values) for name, values in self.data[event_id].items()}
        return Event(system, data, Origin("generated", record_id))


def corpus_pool(corpus_dir: str) -> ValuePool:
    """The value pool of every 4656/4658/4663/4690 event of the corpus."""
    events = [result for result in read_paths([corpus_dir], SUPPORTED_EVENT_IDS) if isinstance(result, Event)]
    return ValuePool(events)


def sampled_events(pool: ValuePool, count: int, seed: int = 4658) -> Iterator[Event]:
    rng = random.Random(seed)
    for record_id in range(1, count + 1):
        yield pool.sample(rng, record_id)


# paired_events: the handles open at once, and the 4663s each reads or writes through its handle (0 to this many)
OPEN_HANDLES = 64
MAX_ACCESSES = 3
HANDLE_FIELDS = ("ObjectServer", "ObjectType", "ObjectName")  # a handle's object, the same in its 4656 and 4663s
SUBJECT_FIELDS = ("SubjectUserSid", "SubjectUserName", "SubjectDomainName", "SubjectLogonId", "ProcessName")


def paired_events(pool: ValuePool, count: int, seed: int = 4658) -> Iterator[Event]:
    """Events that pair as a real log's do: each handle opened by a 4656, used by 0-3 4663s and closed by a 4658,
    all by one process of one host and user, about OPEN_HANDLES handles open at once, times rising 1 s a record (the
    precision NXLog writes: no two records share a time); every other field sampled from the corpus as in
    sampled_events."""
    rng = random.Random(seed)
    handles: List[dict] = []
    next_handle = 0x100
    for record_id in range(1, count + 1):
        if len(handles) < OPEN_HANDLES and (not handles or rng.random() < 0.5):
            opened = _paired_sample(pool, rng, 4656, record_id)
            next_handle += 4
            handle = {name: opened.data.get(name) for name in HANDLE_FIELDS + SUBJECT_FIELDS}
            handle.update(
                HandleId=hex(next_handle),
                ProcessId=hex(rng.choice((4, 612, 1044, 2156, 4472, 7104))),
                Computer=opened.system.get("Computer"),
                accesses=rng.randint(0, MAX_ACCESSES),
            )
            handles.append(handle)
            yield _in_handle(opened, handle)
            continue
        handle = rng.choice(handles)
        if handle["accesses"]:
            handle["accesses"] -= 1
            yield _in_handle(_paired_sample(pool, rng, 4663, record_id), handle)
        else:
            handles.remove(handle)
            yield _in_handle(_paired_sample(pool, rng, 4658, record_id), handle)


def _paired_sample(pool: ValuePool, rng: random.Random, event_id: int, record_id: int) -> Event:
    """A sampled event of ``event_id`` timed 1 s after the record before it, audited as a success."""
    system = {name: rng.choice(values) for name, values in pool.system[event_id].items()}
    seconds = timedelta(seconds=record_id)
    system.update(
        EventID=event_id,
        EventRecordID=str(record_id),
        Keywords="0x8020000000000000",
        TimeCreated=f"{datetime(2026, 11, 1) + seconds:%Y-%m-%dT%H:%M:%S.%f}Z",
    )
    data = {name: rng.choice(values) for name, values in pool.data[event_id].items()}
    return Event(system, data, Origin("generated", record_id))


def _in_handle(event: Event, handle: dict) -> Event:
    """The event made one of ``handle``'s: its host, process, handle id, subject and (4656, 4663) object."""
    event.system["Computer"] = handle["Computer"]
    for name in ("HandleId", "ProcessId", *SUBJECT_FIELDS, *HANDLE_FIELDS):
        if name in event.data or name in ("HandleId", "ProcessId"):
            event.data[name] = handle[name]
    return event


def event_xml(event: Event) -> str:
    """One event as Windows renders it (wevtutil qe /f:xml), on one line."""
    system = event.system
    parts = [
        f"<Event xmlns='{EVENT_NAMESPACE}'><System>",
        f"<Provider Name={quoteattr(str(system.get('Provider', '')))} "
        f"Guid={quoteattr(str(system.get('ProviderGuid', '')))}/>",
        f"<EventID>{event.event_id}</EventID>",
    ]
    for name in ("Version", "Level", "Task", "Opcode", "Keywords"):
        if name in system:
            parts.append(f"<{name}>{escape(str(system[name]))}</{name}>")
    parts.append(f"<TimeCreated SystemTime={quoteattr(system['TimeCreated'])}/>")
    parts.append(f"<EventRecordID>{system['EventRecordID']}</EventRecordID><Correlation/>")
    parts.append(
        f"<Execution ProcessID={quoteattr(str(system.get('ProcessID', '4')))} "
        f"ThreadID={quoteattr(str(system.get('ThreadID', '8')))}/>"
    )
    for name in ("Channel", "Computer"):
        parts.append(f"<{name}>{escape(str(system.get(name, '')))}</{name}>")
    parts.append("<Security/></System><EventData>")
    parts.extend(
        f"<Data Name={quoteattr(name)}>{escape(value, LINE_BREAKS)}</Data>" for name, value in event.data.items()
    )
    parts.append("</EventData></Event>")
    return "".join(parts)


def nxlog_document(event: Event) -> dict:
    """One event the way NXLog im_msvistalog ships it through Logstash (the OTRF datasets' shape)."""
    system = event.system
    created = datetime.strptime(system["TimeCreated"][:19], "%Y-%m-%dT%H:%M:%S")
    local = created - NXLOG_UTC_OFFSET  # NXLog writes EventTime and EventReceivedTime in the collector's local time
    document = {
        "EventTime": f"{local:%Y-%m-%d %H:%M:%S}",
        "EventReceivedTime": f"{local + timedelta(seconds=1):%Y-%m-%d %H:%M:%S}",
        "@timestamp": f"{created + timedelta(seconds=1):%Y-%m-%dT%H:%M:%S}.000Z",
        "Hostname": system.get("Computer"),
        "Keywords": -9214364837600034816,
        "EventType": "AUDIT_SUCCESS",
        "SeverityValue": 2,
        "Severity": "INFO",
        "EventID": event.event_id,
        "SourceName": system.get("Provider"),
        "ProviderGuid": system.get("ProviderGuid"),
        "Version": 1,
        "Task": system.get("Task"),
        "OpcodeValue": 0,
        "RecordNumber": int(system["EventRecordID"]),
        "ExecutionProcessID": system.get("ProcessID"),
        "ThreadID": system.get("ThreadID"),
        "Channel": "Security",
        "Category": "Other Object Access Events",
        "Opcode": "Info",
        "Message": "The handle to an object was closed.",
    }
    document.update(event.data)
    return document


def write_xml(events: Iterator[Event], target: str) -> int:
    return _write_lines((event_xml(event).encode("utf-8") for event in events), target)


def write_jsonlines(events: Iterator[Event], target: str) -> int:
    """Alternate Winlogbeat 8 and NXLog flat documents, the two shapes people collect most."""
    shapes = (to_winlogbeat, nxlog_document)
    return _write_lines((orjson.dumps(shapes[index % 2](event)) for index, event in enumerate(events)), target)


def _write_lines(lines: Iterator[bytes], target: str) -> int:
    count = 0
    with open(target + ".part", "wb") as output:
        for line in lines:
            output.write(line + b"\n")
            count += 1
    os.replace(target + ".part", target)
    return count


sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools"))
import corpus  # noqa: E402  (tools/corpus.py: where the corpus is)

CORPUS, CORPUS_ABSENT = corpus.locate()
CHUNK_SOURCE = os.path.join(
    CORPUS or "", "evtx", "EVTX-to-MITRE-Attack", "ID4661-4658_Mimikatz_sekurlsa_password_dump_SAM.evtx"
)
MIB = 1 << 20


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="datagen.py", description="Build a benchmark input from the public corpus (tools/corpus.py)."
    )
    parser.add_argument(
        "form",
        choices=("jsonl", "paired", "xml", "evtx"),
        help="what to write (paired: JSON-lines whose handles open, are used and close as in a real log)",
    )
    parser.add_argument("size", type=int, help="events (jsonl, xml) or MiB at least (evtx)")
    parser.add_argument("output", help="file to write")
    parser.add_argument("--seed", type=int, default=4658, help="random seed of the sampled events (default 4658)")
    args = parser.parse_args(argv)
    if CORPUS is None:
        parser.error(CORPUS_ABSENT)
    if args.form == "evtx":
        chunks = build_evtx(CHUNK_SOURCE, args.output, args.size * MIB)
        print(f"{args.output}: {chunks} chunks")
        return 0
    write = write_xml if args.form == "xml" else write_jsonlines
    events = paired_events if args.form == "paired" else sampled_events
    count = write(events(corpus_pool(CORPUS), args.size, args.seed), args.output)
    print(f"{args.output}: {count} events")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
