"""The Splunk handle-session search pairs as the local sessions do, and three ways agree on the corpus.

Splunk is not available here, so the search is replayed (tests/support/sessions_replay.py: the corpus as Splunk
holds it, each command of the search with its documented semantics, collect as the output read back with the
sourcetype's search-time EVALs). The EQL sequence of the lifetime rule runs with the eql package (its own engine)
over the ECS events in the log's order. With WIN4658_SPLUNK_URL set, tests/live/test_sessions_splunk_live.py runs
the search, collect included, on a real Splunk and compares the summary events the same way.
"""

import configparser
import os

import pytest

from tests.support.corpus_counts import EXPECTED_PAIRS
from tests.support.paths import CORPUS_FILES, ROOT, corpus_path
from tests.support.sessions_replay import (
    PERIOD,
    comparable,
    corpus_rows,
    expected_summary,
    field_values,
    local_sessions,
    log_order,
    moved_to_a_period_boundary,
    pairs_of_local,
    pairs_of_splunk,
    read_handle_events,
    replay,
    replayed,
    replayed_sessions,
    scheduled_runs,
    summary_event,
)
from win4658.detections.definitions import load_bundle
from win4658.detections.fields import installed
from win4658.detections.kibana import query, rule
from win4658.detections.splunk import lifetime_commands
from win4658.detections.timeline import record_number
from win4658.normalize import to_ecs
from win4658.sessions import splunk as session_splunk
from win4658.sessions.access import access_names, access_rights
from win4658.times import time_ns

CIM, ECS = installed("cim"), installed("ecs")


def _handle_row(code, time, handle, record, index_order):
    """One event of handle ``handle`` of process 4 on host H as Splunk returns it (``_cd``: the index order)."""
    return {
        "EventCode": str(code),
        "dest": "H",
        "process_id": 4,
        "HandleId": handle,
        "action": "success",
        "AccessMask": "0x1",
        "_time": time,
        "_raw": f"<EventRecordID>{record}</EventRecordID>",
        "source": "s",
        "_cd": f"0:{index_order}",
    }


def test_the_shipped_search_is_the_one_replayed():
    saved = configparser.ConfigParser(interpolation=None, delimiters=("=",))
    saved.optionxform = str
    saved.read(os.path.join(ROOT, "addon", "default", "savedsearches.conf"), encoding="utf-8")
    stanza = saved[session_splunk.SEARCH_NAME]
    assert stanza["search"] == session_splunk.session_search()
    assert (stanza["disabled"], stanza["enableSched"]) == ("1", "1")
    assert 'collect index=`win4658_sessions_index` sourcetype="win4658:handle_session"' in stanza["search"]
    assert "transaction" not in stanza["search"]


def test_the_replay_on_a_hand_made_sequence():
    """Open, access, close, a second close, open-close in one millisecond twice (the Exchange case), a reused open."""
    rows = [
        _handle_row(code, millis / 1000, handle, record, index_order=100 - record)
        for record, (code, millis, handle) in enumerate(
            [
                (4658, 0, "0x1"),
                (4656, 1, "0x1"),
                (4663, 2, "0x1"),
                (4658, 3, "0x1"),
                (4658, 4, "0x1"),
                (4656, 5, "0x2"),
                (4658, 5, "0x2"),
                (4656, 5, "0x2"),
                (4658, 5, "0x2"),
                (4656, 6, "0x3"),
                (4656, 7, "0x3"),
            ],
            1,
        )
    ]
    replayed = sorted(
        (
            row["handle_id"],
            row["handle_ending"],
            row.get("handle_open_record_id"),
            row.get("handle_close_record_id"),
            row["handle_access_count"],
        )
        for row in scheduled_runs(list(reversed(rows)))
    )
    assert replayed == [
        ("0x1", "close_without_open", None, 1, 0),
        ("0x1", "close_without_open", None, 5, 0),
        ("0x1", "closed", 2, 4, 1),
        ("0x2", "closed", 6, 7, 0),
        ("0x2", "closed", 8, 9, 0),
        ("0x3", "open_at_end", 11, None, 0),
        ("0x3", "reused_before_close", 10, None, 0),
    ]


def test_each_session_is_written_by_one_run():
    """Over 31 hours, hourly runs each reading 24 hours: every session once, under the ending the whole data gives;
    a handle open longer than the range is written open when its open leaves it, its close later without an open."""
    hour = PERIOD
    events = [
        (4656, 0.5, "0xa"),
        (4658, 2.5, "0xa"),
        (4658, 4.0, "0xa"),  # closed across runs, then a second close
        (4656, 1.0, "0xb"),
        (4663, 1.5, "0xb"),
        (4656, 5.0, "0xb"),
        (4658, 6.0, "0xb"),  # reused, then closed
        (4656, 1.2, "0xc"),  # still open when the data ends
        (4656, 0.1, "0xd"),
        (4658, 30.0, "0xd"),  # open longer than a run's range
        (4658, 3.0, "0xe"),
    ]  # a close without an open
    rows = [
        _handle_row(code, 1_600_000_000 + hours * hour, handle, record, index_order=record)
        for record, (code, hours, handle) in enumerate(sorted(events, key=lambda event: event[1]), 1)
    ]
    by_record = {record: hours for record, (_code, hours, _handle) in enumerate(sorted(events, key=lambda e: e[1]), 1)}
    written = sorted(
        (
            row["handle_id"],
            row["handle_ending"],
            by_record.get(row.get("handle_open_record_id")),
            by_record.get(row.get("handle_close_record_id")),
            row["handle_access_count"],
        )
        for row in scheduled_runs(rows)
    )
    assert written == [
        ("0xa", "close_without_open", None, 4.0, 0),
        ("0xa", "closed", 0.5, 2.5, 0),
        ("0xb", "closed", 5.0, 6.0, 0),
        ("0xb", "reused_before_close", 1.0, None, 1),
        ("0xc", "open_at_end", 1.2, None, 0),
        ("0xd", "close_without_open", None, 30.0, 0),
        ("0xd", "open_at_end", 0.1, None, 0),
        ("0xe", "close_without_open", None, 3.0, 0),
    ]


@pytest.mark.parametrize("relative", [entry["file"] for entry in CORPUS_FILES])
def test_splunk_search_replay_gives_the_local_sessions(relative):
    local = pairs_of_local(local_sessions(corpus_path(*relative.split("/"))))
    assert pairs_of_splunk(replayed_sessions(relative)) == local
    # the file the other way round gives the same sessions to Splunk too
    assert pairs_of_splunk(replayed_sessions(relative, reverse=True)) == local
    # and so does a file cut by the runs: each session is written by one run only
    assert pairs_of_splunk(scheduled_runs(moved_to_a_period_boundary(corpus_rows(relative)))) == local


# --- the EQL sequence -----------------------------------------------------------------------------------------


def _elasticsearch_order(events, tiebreaker):
    """Events in the order an EQL search puts their documents: @timestamp, the rule's tiebreaker_field (missing
    last), then the order they were indexed in (the implicit _shard_doc tie-breaker of one shard)."""

    def value(event):
        node = to_ecs(event)
        for name in tiebreaker.split("."):
            node = node.get(name) if isinstance(node, dict) else None
        return node

    return sorted(
        events, key=lambda event: (time_ns(event.system["TimeCreated"]), value(event) is None, value(event) or 0)
    )


LIFETIME = next(detection for detection in load_bundle() if detection.kind == "handle_lifetime")


def _eql_pairs(events):
    """The lifetime EQL sequence's pairs over the events in the order given."""
    import eql

    documents = [dict(to_ecs(event), _ns=time_ns(event.system["TimeCreated"])) for event in events]
    found = []
    engine = eql.PythonEngine({"print": False})
    with eql.parser.elasticsearch_syntax:
        engine.add_query(eql.parse_query(query(LIFETIME, ECS)))
    engine.add_output_hook(lambda result: found.append(result.events))
    # the engine takes the events in the order given (their position as the timestamp)
    engine.stream_events(eql.Event("any", position, document) for position, document in enumerate(documents))
    engine.finalize()
    return sorted(
        _pair(
            opened.data["host"]["name"],
            opened.data["process"]["pid"],
            opened.data["winlog"]["event_data"]["HandleId"],
            opened.data["_ns"],
            closed.data["_ns"],
        )
        for opened, closed in found
    )


def _pair(host, process_id, handle_id, opened_ns, closed_ns):
    """A pair by its handle and its times (microseconds, Splunk's precision), and its duration."""
    opened, closed = round(opened_ns / 1e9, 6), round(closed_ns / 1e9, 6)
    return host, process_id, handle_id, opened, closed, round(closed - opened, 6)


@pytest.mark.parametrize("relative", [entry["file"] for entry in CORPUS_FILES])
def test_local_splunk_and_eql_sessions_have_the_same_pairs_and_durations(relative):
    path = corpus_path(*relative.split("/"))
    local = sorted(
        _pair(
            record["host"], record["process_id"], record["handle_id"], time_ns(record["start"]), time_ns(record["end"])
        )
        for record in local_sessions(path)
        if record["ending"] == "closed"
    )
    splunk = sorted(
        _pair(
            row["dest"], row["process_id"], row["handle_id"], time_ns(row["handle_start"]), time_ns(row["handle_end"])
        )
        for row in replayed_sessions(relative)
        if row["handle_ending"] == "closed"
    )
    assert splunk == local
    # the lifetime detection's search (and the dashboards' lifetime panels) pairs the same, either way round
    lifetimes = lifetime_commands(CIM)
    for reverse in (False, True):
        assert (
            sorted(
                _pair(row["dest"], row["process_id"], row["HandleId"], row["opened_time"] * 1e9, row["_time"] * 1e9)
                for row in replayed(relative, reverse, lifetimes)
            )
            == local
        )
    events = read_handle_events(path)
    assert _eql_pairs(log_order(events)) == local
    # in Elasticsearch's order (the rule's tiebreaker_field: the record number), either way round the file is
    # indexed; a form without record numbers leaves equal times in the order indexed (docs/pairing.md)
    if all(record_number(event) is not None for event in events):
        tiebreaker = rule(LIFETIME, ECS)["tiebreaker_field"]
        assert _eql_pairs(_elasticsearch_order(events, tiebreaker)) == local
        assert _eql_pairs(_elasticsearch_order(events[::-1], tiebreaker)) == local
    assert len(local) == EXPECTED_PAIRS.get(relative, (0, 0))[0]


@pytest.mark.parametrize("relative", [entry["file"] for entry in CORPUS_FILES])
def test_the_summary_events_are_the_local_sessions_field_by_field(relative):
    """Every field of every session, as the summary index holds it, equals the local session's CIM form."""
    local = sorted(comparable(expected_summary(record)) for record in local_sessions(corpus_path(*relative.split("/"))))
    for reverse in (False, True):  # the file stored either way round
        splunk = sorted(comparable(summary_event(row)) for row in replayed_sessions(relative, reverse))
        assert len(splunk) == len(local)
        for found, expected in zip(splunk, local):
            assert dict(found) == dict(expected)


@pytest.mark.parametrize("object_type", [*access_rights()[1], "Mutant", None])
def test_the_lookup_names_every_bit_as_the_local_sessions_do(object_type):
    """The lookup and the macro win4658_access_names give sessions/access.py's names, for every table and bit."""
    masks = [0xFFFFFFFF, 0x1FFFFF, 0x120089, 0x0, 0x80000000, 0xC000, 0x10000]
    rows = [{"win4658_rights_type": object_type or "-", "mask": mask} for mask in masks]
    named = replay(
        rows,
        [
            ("lookup", f"{session_splunk.ACCESS_RIGHTS_LOOKUP} object_type AS win4658_rights_type"),
            ("eval", f"`{session_splunk.ACCESS_NAMES_MACRO}(mask, names)`"),
        ],
    )
    assert [field_values(row.get("names")) for row in named] == [
        list(access_names(object_type, mask)) for mask in masks
    ]


def test_the_session_fields_on_a_hand_made_session():
    """Names by object type (unnamed bits last, in hex), the 4663 masks or-ed, privileges split, ISO times."""
    rows = [
        {
            "EventCode": "4656",
            "dest": "H",
            "process_id": 4,
            "HandleId": "0x10",
            "action": "success",
            "AccessMask": "0x1fffff",
            "ObjectType": "Process",
            "PrivilegeList": "SeDebugPrivilege\n\t\t\tSeBackupPrivilege",
            "_time": 1442880942.910428,
            "_raw": "<EventRecordID>7</EventRecordID>",
            "source": "s",
            "_cd": "0:1",
        },
        {
            "EventCode": "4663",
            "dest": "H",
            "process_id": 4,
            "HandleId": "0x10",
            "AccessMask": "0x10",
            "_time": 1442880942.910429,
            "_raw": "<EventRecordID>8</EventRecordID>",
            "source": "s",
            "_cd": "0:2",
        },
        {
            "EventCode": "4663",
            "dest": "H",
            "process_id": 4,
            "HandleId": "0x10",
            "AccessMask": "0x100001",
            "_time": 1442880942.910430,
            "_raw": "<EventRecordID>9</EventRecordID>",
            "source": "s",
            "_cd": "0:3",
        },
        {
            "EventCode": "4658",
            "dest": "H",
            "process_id": 4,
            "HandleId": "0x10",
            "_time": 1442880943.5,
            "_raw": "<EventRecordID>10</EventRecordID>",
            "source": "s",
            "_cd": "0:4",
        },
    ]
    (session,) = [summary_event(row) for row in scheduled_runs(rows)]
    assert session["handle_access_requested"][-3:] == ["SYNCHRONIZE", "0x4000", "0x8000"]
    assert session["handle_access_requested"][0] == "PROCESS_TERMINATE"
    assert (session["handle_access_requested_mask"], session["handle_access_used_mask"]) == ("0x1fffff", "0x100011")
    assert session["handle_access_used"] == ["PROCESS_TERMINATE", "PROCESS_VM_READ", "SYNCHRONIZE"]
    assert session["handle_privileges"] == ["SeDebugPrivilege", "SeBackupPrivilege"]
    assert (session["handle_start"], session["handle_end"]) == (
        "2015-09-22T00:15:42.910428Z",
        "2015-09-22T00:15:43.500000Z",
    )
    assert (session["handle_duration_ns"], session["duration"]) == (589572000, 0.589572)
