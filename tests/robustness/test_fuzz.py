"""Fuzzing the readers and the mappings with mutated real records (fixed seed, a few thousand cases).

Each case is a file of mutated records followed by one intact record. Whatever the mutation: no exception escapes;
every record read is converted, of another event id, or counted as an error naming its file and record; the intact
record after them is still converted (unless an error said the rest of the file could not be read); every document
serialises and holds index-safe values; nothing outside the input is written and no connection is attempted.
"""

import copy
import hashlib
import json
import os
import random
import re
import socket
import tarfile
import tempfile
import zipfile
from typing import Callable, Iterator, List

import orjson

from tests.support.paths import corpus_path
from tests.support.sample import one_line
from win4658.convert import Summary, convert
from win4658.detections.local_hunt import Hunt
from win4658.event import SUPPORTED_EVENT_IDS, Event, Origin, RecordError
from win4658.examples import EXAMPLE_FILES
from win4658.readers import read_paths
from win4658.readers.jsonlines import document_to_event
from win4658.times import readable_time
from win4658.winlogbeat import to_winlogbeat

SEED = 4658
ALL_IDS = frozenset(SUPPORTED_EVENT_IDS)
# Keys whose odd values broke readers before: chosen more often than others.
SENSITIVE_KEYS = (
    "event",
    "winlog",
    "host",
    "@timestamp",
    "computer_name",
    "event_data",
    "event_id",
    "EventID",
    "TimeCreated",
    "EventTime",
    "EventReceivedTime",
    "Hostname",
    "Keywords",
    "ProcessId",
    "HandleId",
    "record_id",
    "code",
    "name",
    "process",
    "pid",
)


def nested(depth: int) -> object:
    value: object = "x"
    for _ in range(depth):
        value = {"a": [value]}
    return value


ODD_VALUES = [
    None,
    True,
    False,
    0,
    -1,
    4658,
    4658.7,
    2**63,
    2**64 - 1,
    1e300,
    "",
    " ",
    "-",
    "garbage",
    "04658",
    " 4658",
    "0x" + "f" * 20,
    "-0x5",
    "２０２０-01-01T00:00:00Z",
    "2020-13-45T99:99:99Z",
    "\ufeff{",
    "\x00",
    "a" * 5000,
    {},
    {"a": 1},
    {"code": {"x": []}},
    [],
    [1, "x", None],
    nested(60),
]
SNIPPETS = [
    b"\xef\xbb\xbf",
    b"\x00",
    b"\xff\xfe",
    b"<",
    b">",
    b"</Event>",
    b"<Event>",
    b"<!DOCTYPE x [",
    b"&amp;",
    b"&#0;",
    b"&bogus;",
    b'"',
    b"'",
    b"\r",
    b"\n",
    b"{",
    b"}",
    b"\\",
    b"\xc3",
    b"\xed\xa0\x80",
    b"-",
    b"<![CDATA[",
    b"]]>",
    b"<?xml version='1.0'?>",
    b"0x10000000000000000",
    b"4658.7",
]


def mutate_bytes(data: bytes, rng: random.Random) -> bytes:
    data = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        position = rng.randrange(len(data) + 1)
        action = rng.randrange(6)
        if action == 0 and data:
            data[min(position, len(data) - 1)] = rng.randrange(256)
        elif action == 1:
            data[position:position] = rng.choice(SNIPPETS)
        elif action == 2:
            del data[position : position + rng.randint(1, 40)]
        elif action == 3:
            data[position:position] = data[position : position + rng.randint(1, 200)]
        elif action == 4:
            del data[position:]
        else:
            data[position:position] = rng.choice(SNIPPETS) * rng.randint(2, 50)
    return bytes(data)


def _containers(node: object, found: list) -> list:
    if isinstance(node, dict):
        found.append(node)
        for value in node.values():
            _containers(value, found)
    elif isinstance(node, list):
        for value in node:
            _containers(value, found)
    return found


def mutate_document(document: dict, rng: random.Random) -> dict:
    document = copy.deepcopy(document)
    for _ in range(rng.randint(1, 3)):
        holders = [node for node in _containers(document, []) if node]
        if not holders:
            break
        sensitive = [(node, key) for node in holders for key in node if key in SENSITIVE_KEYS]
        node, key = (
            rng.choice(sensitive)
            if sensitive and rng.random() < 0.7
            else (lambda node: (node, rng.choice(list(node))))(rng.choice(holders))
        )
        action = rng.randrange(4)
        if action == 0:
            del node[key]
        elif action == 1 and isinstance(node[key], str):
            node[key] = mutate_bytes(node[key].encode(), rng).decode("utf-8", "replace")
        else:
            node[key] = copy.deepcopy(rng.choice(ODD_VALUES))
    return document


def split_xml(data: bytes) -> List[bytes]:
    return [one_line(record) for record in re.findall(rb"(?:- )?<Event[\s>].*?</Event>", data, re.DOTALL)]


def example_records() -> dict:
    """The bundled examples as XML records and as the Winlogbeat documents of their events."""
    xml: List[bytes] = []
    for path in EXAMPLE_FILES:
        with open(path, "rb") as stream:
            xml += split_xml(stream.read())
    events = [result for result in read_paths(EXAMPLE_FILES, ALL_IDS) if isinstance(result, Event)]
    return {"xml": xml, "json": [to_winlogbeat(event) for event in events]}


def corpus_records() -> dict:
    """JSON documents of every shape in the corpus archives (a few hundred per archive) and the small EVTX files."""
    corpus = corpus_path()
    documents: List[dict] = []
    for name in sorted(os.listdir(os.path.join(corpus, "json"))):
        path = os.path.join(corpus, "json", name)
        documents += [
            document
            for document in map(orjson.loads, filter(None, _archive_lines(path)))
            if document_to_event(document, Origin(path, 0), ALL_IDS) is not None
        ][:150]
    evtx = []
    for folder, _, files in sorted(os.walk(os.path.join(corpus, "evtx"))):
        paths = [os.path.join(folder, name) for name in sorted(files)]
        evtx += [path for path in paths if os.path.getsize(path) < 100_000]
    return {"json": documents, "evtx": evtx}


def _archive_lines(path: str, wanted: int = 2000) -> List[bytes]:
    if path.endswith(".zip"):
        with zipfile.ZipFile(path) as archive, archive.open(archive.infolist()[0]) as member:
            return [member.readline() for _ in range(wanted)]
    with tarfile.open(path, "r:gz") as archive:
        member = next(item for item in archive if item.isfile())
        stream = archive.extractfile(member)
        return [stream.readline() for _ in range(wanted)] if stream else []


class Guard:
    """Every connection attempt, recorded (and refused)."""

    def __init__(self, monkeypatch):
        self.attempts: list = []
        for name in ("connect", "connect_ex", "sendto"):
            monkeypatch.setattr(socket.socket, name, self._refuse(name))
        monkeypatch.setattr(socket, "getaddrinfo", self._refuse("getaddrinfo"))

    def _refuse(self, name: str) -> Callable:
        def refused(*args, **kwargs):
            self.attempts.append((name, args[1:2]))
            raise OSError(f"fuzz test: no network ({name})")

        return refused


def snapshot(folder: str) -> dict:
    state = {}
    for root, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as stream:
                state[path] = hashlib.sha256(stream.read()).hexdigest()
    return state


def check_case(path: str, with_hunt: bool) -> None:
    summary = Summary()
    items = list(convert([path], "ecs", ALL_IDS, summary))
    errors = [item for item in items if isinstance(item, RecordError)]
    documents = [item for item in items if isinstance(item, dict)]
    for document in documents:
        orjson.dumps(document)
        _index_safe(document)
    for error in errors:
        assert str(error).startswith(f"{path}") and error.message
    record_errors = [error for error in errors if error.origin.record > 0]
    assert summary.converted + len(record_errors) + summary.stats.other_event_id == summary.stats.records, errors
    if not any(error.fatal for error in errors) and not path.endswith(".evtx"):
        assert items and isinstance(items[-1], dict), items[-3:]  # the intact record after the mutated ones
    for target in ("cim", "winlogbeat"):
        for item in convert([path], target, ALL_IDS):
            if isinstance(item, dict):
                orjson.dumps(item)
    if with_hunt:
        hunt = Hunt()
        for item in hunt.run([path]):
            if not isinstance(item, RecordError):
                orjson.dumps(item.as_dict())
        assert hunt.summary.stats.records == summary.stats.records


def _index_safe(document: dict) -> None:
    """What an index would refuse: an unreadable date, a host name that is no text, a pid that is no long."""
    if "@timestamp" in document:
        assert readable_time(document["@timestamp"]), document["@timestamp"]
    host = document.get("host", {}).get("name")
    assert host is None or isinstance(host, (str, int)) and not isinstance(host, bool), host
    for field in ("process", "winlog"):
        pid = (
            (document.get(field) or {}).get("pid")
            if field == "process"
            else (document.get("winlog", {}).get("process") or {}).get("pid")
        )
        assert pid is None or (type(pid) is int and 0 <= pid < 2**63), pid


def cases(records: dict, rng: random.Random, count: int) -> Iterator[tuple]:
    """(file name, content) of ``count`` cases over the seeds: text records mutated as documents or as bytes."""
    kinds = [kind for kind in ("json", "xml", "evtx") if records.get(kind)]
    for number in range(count):
        kind = kinds[number % len(kinds)]
        if kind == "evtx":
            with open(rng.choice(records["evtx"]), "rb") as stream:
                data = bytearray(stream.read())
            for _ in range(rng.randint(1, 8)):
                position = rng.randrange(4096 + 512, len(data))  # past the file and chunk headers, in the records
                noise = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
                data[position : position + rng.randint(1, 16)] = noise
            yield f"case{number}.evtx", bytes(data)
            continue
        intact = records[kind][number % len(records[kind])]
        mutated = []
        for _ in range(rng.randint(1, 3)):
            seed = rng.choice(records[kind])
            if kind == "json" and rng.random() < 0.6:
                mutated.append(json.dumps(mutate_document(seed, rng)).encode())
            else:
                mutated.append(mutate_bytes(json.dumps(seed).encode() if kind == "json" else seed, rng))
        ending = json.dumps(intact).encode() if kind == "json" else intact
        yield f"case{number}.{kind}", b"\n".join(mutated) + b"\n" + ending + b"\n"


def run_cases(records: dict, count: int, tmp_path, monkeypatch) -> None:
    rng = random.Random(SEED)
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))
    monkeypatch.chdir(private_tmp)
    guard = Guard(monkeypatch)
    written = {}
    for number, (name, content) in enumerate(cases(records, rng, count)):
        path = inputs / name
        path.write_bytes(content)
        written[str(path)] = hashlib.sha256(content).hexdigest()
        check_case(str(path), with_hunt=number % 10 == 0)
    archive = inputs / "members.zip"  # the mutated files again, as members of one archive
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        for path in sorted(written)[:200]:
            bundle.write(path, os.path.basename(path))
    written[str(archive)] = hashlib.sha256(archive.read_bytes()).hexdigest()
    items = list(read_paths([str(archive)], ALL_IDS))
    assert sum(isinstance(item, Event) for item in items) > 0
    assert snapshot(str(inputs)) == written  # the inputs unchanged, nothing added beside them
    assert snapshot(str(private_tmp)) == {}  # nothing left in the temporary directory or the working directory
    assert guard.attempts == []


def test_fuzz_the_bundled_examples(tmp_path, monkeypatch):
    run_cases(example_records(), 1200, tmp_path, monkeypatch)


def test_fuzz_the_corpus(tmp_path, monkeypatch):
    run_cases(corpus_records(), 1800, tmp_path, monkeypatch)
