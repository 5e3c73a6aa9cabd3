"""The JSON-lines reader's fast paths (readers/jsonlines_fast.py) give what the plain ones give: NXLog local times,
Winlogbeat System fields, strptime."""

import os
import sys

import pytest

from tests.support.outcome import outcome
from tests.support.paths import ROOT, corpus_path
from win4658.event import SUPPORTED_EVENT_IDS, Event, Origin, TimedEvent
from win4658.readers.jsonlines import (
    NXLOG_SYSTEM_KEYS,
    _flat_time,
    _from_flat,
    _keywords_hex,
    _local_to_utc,
    document_to_event,
)
from win4658.readers.jsonlines_fast import local_to_utc_fast, winlogbeat_system
from win4658.times import readable_time, time_ns
from win4658.winlogbeat import FALLBACK_PATHS, SYSTEM_PATHS, to_winlogbeat

sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
import datagen  # noqa: E402

LOCAL_TIMES = [  # (EventTime, EventReceivedTime, @timestamp): what NXLog and Logstash write, and what they might
    ("2020-09-16 23:40:04", "2020-09-16 23:40:05", "2020-09-17T03:40:05.828Z"),  # UTC-4, across midnight
    ("2020-09-16 23:40:04", "2020-09-16 23:40:05", "2020-09-16T18:10:05Z"),  # UTC+5:30
    ("2020-09-16 23:40:04", "2020-09-16 23:40:05", "2020-09-16T17:55:05"),  # UTC+5:45
    (
        "2020-09-16 00:00:00",
        "2020-09-16 00:07:30",
        "2020-09-16T00:00:00Z",
    ),  # exactly half a quarter hour: rounds to even
    ("2020-09-16 00:00:00", "2020-09-16 00:22:30", "2020-09-16T00:00:00Z"),
    ("2020-09-16 00:00:00", "2020-09-15 23:52:30", "2020-09-16T00:00:00Z"),
    ("2021-01-01 00:10:59", "2021-01-01 00:11:00", "2020-12-31T23:11:00Z"),  # back across a year
    ("2020-02-29 23:59:59", "2020-03-01 00:00:01", "2020-02-29T20:00:01Z"),  # leap day
    ("2020-02-30 10:00:00", "2020-02-28 10:00:00", "2020-02-28T10:00:00Z"),  # no such day
    ("2020-09-16 10:00:60", "2020-09-16 10:00:00", "2020-09-16T10:00:00Z"),  # strptime's second 60
    ("2020-09-16 10:00:00", "2020-09-16 10:00:61", "2020-09-16T10:00:00Z"),
    ("2020-09-16 10:00:00", "2020-09-16 10:00:00", "2020-09-16T10:00:62Z"),
    ("2020-09-16 24:00:00", "2020-09-16 10:00:00", "2020-09-16T10:00:00Z"),  # no such hour
    ("2020-9-16 10:00:00", "2020-09-16 10:00:00", "2020-09-16T10:00:00Z"),  # not canonical: strptime reads it
    ("2020-09-16T10:00:00", "2020-09-16 10:00:00", "2020-09-16T10:00:00Z"),  # wrong separator
    ("2020-09-16 10:00:00", "2020-09-16 10:00:00", "2020-09-16 10:00:00Z"),
    ("2020-09-16 10:00:00", "2020-09-16 10:00:00", "2020-09-16T10:00"),  # @timestamp too short
    ("２020-09-16 10:00:00", "2020-09-16 10:00:00", "2020-09-16T10:00:00Z"),  # a non-ASCII digit
    ("2020-09-16 10:00:00 ", "2020-09-16 10:00:00", "2020-09-16T10:00:00Z"),
    ("1000-01-01 00:00:00", "1000-01-01 00:00:00", "1000-01-01T00:00:00Z"),  # the first four-digit year
    ("1000-01-01 00:00:00", "1000-01-01 00:00:00", "0999-12-31T23:00:00Z"),  # back into year 999
    ("0001-01-01 00:00:00", "0001-01-01 00:00:00", "0001-01-01T00:00:00Z"),
    ("0001-01-01 00:00:00", "0001-01-01 01:00:00", "0001-01-01T00:00:00Z"),  # before year 1: datetime's overflow
    ("9999-12-31 23:59:59", "9999-12-31 23:59:59", "9999-12-31T23:59:59Z"),
    ("9999-12-31 23:59:59", "9999-12-31 22:00:00", "9999-12-31T23:00:00Z"),  # past year 9999
    ("0000-01-01 00:00:00", "2020-09-16 10:00:00", "2020-09-16T10:00:00Z"),
    (20200916, "2020-09-16 10:00:00", "2020-09-16T10:00:00Z"),  # not text
    ("2020-09-16 10:00:00", 20200916, "2020-09-16T10:00:00Z"),
    ("2020-09-16 10:00:00", "2020-09-16 10:00:00", 1600250400),
]


@pytest.mark.parametrize("event_time, received, stamp", LOCAL_TIMES)
def test_nxlog_local_time_equals_the_datetime_conversion(event_time, received, stamp):
    document = {"EventTime": event_time, "EventReceivedTime": received, "@timestamp": stamp}
    for _ in range(2):  # the second time through, minutes come from the memos
        assert outcome(lambda _: _flat_time(document)[0], None) == outcome(
            lambda _: _local_to_utc(event_time, received, stamp), None
        )


def test_only_a_time_the_fast_path_wrote_makes_a_timed_event_and_its_time_is_readable():
    pool = datagen.corpus_pool(corpus_path())
    cases = [
        (document["EventTime"], document["EventReceivedTime"], document["@timestamp"])
        for document in (datagen.nxlog_document(event) for event in datagen.sampled_events(pool, 200))
    ]
    timed = 0
    for event_time, received, stamp in LOCAL_TIMES + cases:
        document = {"EventID": 4658, "EventTime": event_time, "EventReceivedTime": received, "@timestamp": stamp}
        fast = local_to_utc_fast(event_time, received, stamp)
        if fast is not None:
            event = document_to_event(document, Origin("nxlog", 1), SUPPORTED_EVENT_IDS)
            text, nanoseconds = fast
            assert event.__class__ is TimedEvent and event.system["TimeCreated"] == text
            assert readable_time(text) and time_ns(text) == time_ns(_local_to_utc(event_time, received, stamp))
            assert event.time_ns() == event.nanoseconds == nanoseconds == time_ns(text)
            timed += 1
        elif outcome(lambda _: _local_to_utc(event_time, received, stamp), None)[0] == "result":
            assert document_to_event(document, Origin("nxlog", 1), SUPPORTED_EVENT_IDS).__class__ is Event
    assert timed == 10 + len(cases)
    winlogbeat = document_to_event(
        {"winlog": {"event_id": 4658}, "@timestamp": "2020-09-16T10:00:00Z"}, Origin("w", 1), SUPPORTED_EVENT_IDS
    )
    flat = document_to_event(
        {"EventID": 4658, "TimeCreated": "2020-10-18 10:56:14.646"}, Origin("n", 1), SUPPORTED_EVENT_IDS
    )
    assert winlogbeat.__class__ is flat.__class__ is Event


def test_local_time_cases_cover_answers_errors_and_the_fast_path():
    outcomes = [outcome(lambda _: _local_to_utc(*case), None)[0] for case in LOCAL_TIMES]
    answered_fast = [case for case in LOCAL_TIMES if local_to_utc_fast(*case) is not None]
    assert (outcomes.count("result"), outcomes.count("error"), len(answered_fast)) == (14, 15, 10)


def _walked_system(document: dict) -> dict:
    """The reference: each System field read by walking its path in the table, else its fallback path."""
    system = {}
    for field, path in SYSTEM_PATHS.items():
        value = _walk(document, path)
        if value is None and field in FALLBACK_PATHS:
            value = _walk(document, FALLBACK_PATHS[field])
        if value is not None:
            system[field] = value
    return system


def _walk(document: dict, path: str) -> object:
    node: object = document
    for key in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


WINLOGBEAT_EDGES = [
    {"winlog": {"event_id": "4658"}, "event": {"code": "4656"}, "host": {"name": "fallback"}},
    {"winlog": {"computer_name": None, "process": {"pid": 4, "thread": 7}}, "event": {"code": 4658}, "host": "plain"},
    {"winlog": {"process": [1], "version": 0, "keywords": []}, "host": {"name": None}, "@timestamp": None},
    {"winlog": {"process": {"thread": {"id": None}}, "record_id": 0}, "event": None},
    {"winlog": {}},
]


def test_winlogbeat_system_fields_equal_walking_the_table(corpus_events):
    documents = [to_winlogbeat(event) for event in corpus_events] + WINLOGBEAT_EDGES
    for document in documents:
        assert winlogbeat_system(document) == _walked_system(document)
    assert winlogbeat_system(WINLOGBEAT_EDGES[0])["Computer"] == "fallback"
    assert winlogbeat_system(WINLOGBEAT_EDGES[1])["EventID"] == 4658


def test_sampled_nxlog_documents_recover_their_utc_time():
    pool = datagen.corpus_pool(corpus_path())
    for event in datagen.sampled_events(pool, 400):
        document = datagen.nxlog_document(event)
        expected = event.system["TimeCreated"][:19] + "Z"
        assert (
            _flat_time(document)[0]
            == expected
            == _local_to_utc(document["EventTime"], document["EventReceivedTime"], document["@timestamp"])
        )


def test_event_data_values_become_text_and_a_non_object_is_named():
    document = {"winlog": {"event_id": 4658, "event_data": {"A": "text", "B": 5, "C": None}}}
    event = document_to_event(document, Origin("wlb", 1), SUPPORTED_EVENT_IDS)
    assert isinstance(event, Event) and event.data == {"A": "text", "B": "5", "C": ""}
    document["winlog"]["event_data"] = ["not", "an", "object"]
    with pytest.raises(TypeError, match="event data must be an object, not list"):
        document_to_event(document, Origin("wlb", 1), SUPPORTED_EVENT_IDS)


def _plain_flat(document: dict) -> tuple:
    """The reference: NXLog's System fields and EventData read key by key."""
    system = {
        "Provider": document.get("SourceName"),
        "ProviderGuid": document.get("ProviderGuid"),
        "TimeCreated": _flat_time(document)[0],
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
    return {name: value for name, value in system.items() if value is not None}, list(data.items())


FLAT_EDGES = [
    {"EventID": 4658},
    {"EventID": 4658, "HandleId": "0x1"},
    {"EventID": 4658, "Opcode": "Info", "ProcessID": 4, "HandleId": "0x1", "ProcessId": "0x2"},
    {
        "EventID": 4658,
        "OpcodeValue": None,
        "Opcode": "Info",
        "ExecutionProcessID": None,
        "ProcessID": 4,
        "Hostname": None,
    },
    {
        "ProcessName": "a.exe",
        "EventID": 4658,
        "SourceName": "S",
        "Keywords": -9214364837600034816,
        "Zeta": 1,
        "Alpha": "x",
    },
    {"EventID": 4658, "TimeCreated": "2020-10-18 10:56:14.646", "Level": 0, "Version": 0, "Task": 12800},
]


def test_nxlog_fields_equal_reading_key_by_key():
    pool = datagen.corpus_pool(corpus_path())
    documents = [datagen.nxlog_document(event) for event in datagen.sampled_events(pool, 200)] + FLAT_EDGES
    for document in documents + FLAT_EDGES:  # the edges twice: times come from the memos
        system, data, _ = _from_flat(document)
        assert (system, list(data.items())) == _plain_flat(document)


@pytest.mark.parametrize(
    "text, time_format",
    [
        ("2020-10-18 06:56:14", "%Y-%m-%d %H:%M:%S"),
        ("2020-10-18T10:56:16", "%Y-%m-%dT%H:%M:%S"),
        ("2020-02-30 06:56:14", "%Y-%m-%d %H:%M:%S"),  # no such day
        ("2020-10-18 06:56:60", "%Y-%m-%d %H:%M:%S"),  # strptime's own rule for second 60
        ("0000-10-18 06:56:14", "%Y-%m-%d %H:%M:%S"),
        ("2020-1-8 6:56:14", "%Y-%m-%d %H:%M:%S"),  # not canonical: strptime reads it
        ("2020-10-18 06:56:14", "%Y-%m-%dT%H:%M:%S"),
        ("2020-10-18 06:56:14 ", "%Y-%m-%d %H:%M:%S"),
        ("２020-10-18 06:56:14", "%Y-%m-%d %H:%M:%S"),  # a non-ASCII digit
    ],
)
def test_fast_time_parsing_equals_strptime(text, time_format):
    from datetime import datetime

    from win4658.readers.jsonlines_fast import strptime

    assert outcome(lambda _: strptime(text, time_format).isoformat(), None) == outcome(
        lambda _: datetime.strptime(text, time_format).isoformat(), None
    )


def _at(path, value):
    """{"a": {"b": value}} for the dotted path "a.b"."""
    *parents, leaf = path.split(".")
    document = {leaf: value}
    for key in reversed(parents):
        document = {key: document}
    return document


def test_event_ids_are_read_where_the_windows_layer_puts_them():
    from win4658 import windows

    origin = Origin("layer", 1)
    shapes = {
        "winlogbeat": _at(windows.WINLOGBEAT_PATHS["EventID"], "4658"),
        "winlogbeat fallback": {
            **_at(windows.WINLOGBEAT_PATHS["EventID"], None),
            **_at(windows.WINLOGBEAT_FALLBACK_PATHS["EventID"], "4658"),
        },
        "winlogbeat6": {windows.WINLOGBEAT6_EVENT_ID_KEY: 4658, windows.WINLOGBEAT6_EVENT_DATA_KEY: {"A": "b"}},
        "nxlog": {windows.NXLOG_EVENT_ID_KEY: 4658, "A": "b"},
    }
    for shape, document in shapes.items():
        event = document_to_event(document, origin, SUPPORTED_EVENT_IDS)
        assert event is not None and event.event_id == 4658, shape
    assert document_to_event(shapes["winlogbeat6"], origin, SUPPORTED_EVENT_IDS).data == {"A": "b"}
    with pytest.raises(ValueError, match="^no winlog, event_id or EventID field$"):
        document_to_event({"Other": 1}, origin, SUPPORTED_EVENT_IDS)
