"""hunt's session lines (sessions/line.py, built from JSON pieces, and C's where it is built) equal the reference, the
session record written by orjson, byte for byte: on every corpus file (both ways round), on sampled JSON-lines and on
edge cases."""

import os
import sys

import pytest

from tests.support.paths import ROOT, corpus_inputs, corpus_path
from tests.support.reversed_files import reversed_copy
from win4658.cli.common import ndjson_line
from win4658.detections.lifetime import CLOSE_WITHOUT_OPEN, CLOSED, OPEN_AT_END, REUSED, HandleTracker, Lifetime
from win4658.detections.local_hunt import Hunt
from win4658.event import Event, Origin
from win4658.sessions.line import _timed, python_session_line, session_line
from win4658.sessions.record import session_record
from win4658.times import format_ns

sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
import datagen  # noqa: E402


def _reference(lifetime: Lifetime) -> bytes:
    return ndjson_line({"session": session_record(lifetime)})


def _sessions(paths, **options):
    return [item for item in Hunt(sessions=True, **options).run(paths) if isinstance(item, Lifetime)]


def _assert_lines_equal(sessions):
    assert sessions
    for lifetime in sessions:
        expected = _reference(lifetime)
        assert session_line(lifetime) == expected
        assert python_session_line(lifetime) == expected


def test_session_lines_equal_the_reference_on_the_corpus(tmp_path):
    sessions = _sessions(corpus_inputs(tmp_path))
    assert {lifetime.ending for lifetime in sessions} >= {CLOSED, CLOSE_WITHOUT_OPEN, OPEN_AT_END}
    assert any(lifetime.access_count for lifetime in sessions)
    _assert_lines_equal(sessions)
    # a small window and table: late events, forgotten and reused handles
    _assert_lines_equal(_sessions(corpus_inputs(tmp_path), window=50, max_open_handles=100))


def test_session_lines_equal_the_reference_on_a_reversed_corpus_file(tmp_path):
    _assert_lines_equal(
        _sessions([reversed_copy(corpus_path("json", "cmd_lsass_memory_dumpert_syscalls.zip"), tmp_path)])
    )


def test_session_lines_equal_the_reference_on_sampled_json_lines(tmp_path):
    target = str(tmp_path / "sampled.ndjson")
    datagen.write_jsonlines(datagen.sampled_events(datagen.corpus_pool(corpus_path()), 3000), target)
    _assert_lines_equal(_sessions([target], max_open_handles=100))


def _event(event_id, record, **data):
    system = {
        "EventID": event_id,
        "Computer": data.pop("host", "WS1"),
        "TimeCreated": f"2026-01-01T00:00:0{record}Z",
        "EventRecordID": data.pop("record_id", record),
    }
    return Event(system, dict({"ProcessId": "0x10", "HandleId": "0x4"}, **data), Origin("edge", record))


ODD_OPEN = {
    "ObjectType": "Fichier «x»",
    "ObjectName": 'C:\\a "b"\\ç\u2028\x01.txt',
    "AccessMask": "not a mask",
    "ObjectServer": "-",
    "SubjectUserName": "-",
    "SubjectDomainName": "",
    "SubjectUserSid": "",
    "SubjectLogonId": "-",
    "PrivilegeList": "-",
    "ProcessName": "-",
}


@pytest.mark.parametrize(
    "opened, closed",
    [
        (
            {
                "ObjectType": "File",
                "ObjectName": "C:\\x.txt",
                "AccessMask": "0x120089",
                "PrivilegeList": "SeBackupPrivilege\r\n\tSeRestorePrivilege",
                "SubjectUserName": "alice",
                "SubjectDomainName": "CORP",
                "SubjectUserSid": "S-1-5-21-1",
                "SubjectLogonId": "0x3e7",
                "ObjectServer": "Security",
                "ProcessName": "C:\\Windows\\explorer.exe",
            },
            {},
        ),
        (dict(ODD_OPEN, host=""), {"host": "", "record_id": ""}),
        (
            {"AccessMask": "0x80000000", "ObjectType": "Key", "record_id": "text id", "host": None},
            {"record_id": None, "host": None},
        ),
        (None, {"SubjectUserName": "bob", "SubjectDomainName": "-", "ProcessName": "C:\\b\\é.exe", "host": "ws «1»"}),
        (None, ODD_OPEN),
    ],
)
def test_session_lines_equal_the_reference_on_edge_cases(opened, closed):
    sessions = []
    tracker = HandleTracker(on_end=sessions.append)
    if opened is not None:
        tracker.observe(_event(4656, 1, **dict(opened)), 1_000_000_000)
        tracker.observe(_event(4663, 2, AccessMask="0x3"), 2_000_000_000)
        tracker.observe(_event(4656, 3, **dict(opened)), 3_000_000_000)  # reuses the handle: ends the first
        tracker.observe(_event(4658, 4, **dict(closed)), 4_500_000_000)
        tracker.observe(_event(4656, 5, **dict(opened)), None)
    tracker.observe(_event(4658, 6, **dict(closed, HandleId="0x8")), None)  # no open of that handle
    tracker.end()
    assert {lifetime.ending for lifetime in sessions} >= {CLOSE_WITHOUT_OPEN} | (
        {CLOSED, REUSED, OPEN_AT_END} if opened is not None else set()
    )
    _assert_lines_equal(sessions)


@pytest.mark.parametrize(
    "nanoseconds",
    [0, 1, 999, 1_000, 999_999_999, 59_999_999_999, 60_000_000_000, -1, -1_000, -86_400_000_000_123]
    + [1_764_547_207_123_456_789, 253_402_300_799_999_999_999],
)
def test_session_times_are_format_ns_texts(nanoseconds):
    assert _timed(b"", nanoseconds) == format_ns(nanoseconds).encode() + b'",'
