"""Handle lifetime (detection 6): the pairing algorithm, on hand-made sequences and on the corpus."""

import pytest

from tests.support.corpus_counts import EXPECTED_PAIRS
from tests.support.paths import corpus_path
from win4658.detections.engine import Finding
from win4658.detections.lifetime import HandleTracker
from win4658.detections.local_hunt import Hunt
from win4658.detections.timeline import TimeOrder
from win4658.event import Event, Origin
from win4658.times import format_ns, time_ns


def _event(event_id, seconds, handle="0x10", pid="0x4d0", host="WS1", keywords="0x8020000000000000", record=0, **data):
    system = {
        "EventID": event_id,
        "Computer": host,
        "Keywords": keywords,
        "TimeCreated": f"2026-01-01T00:00:{seconds:09.6f}Z",
    }
    fields = {"ProcessId": pid, "HandleId": handle, "ProcessName": r"C:\Windows\System32\svchost.exe", **data}
    return Event(system, fields, Origin("test", record or int(seconds * 1000)))


def _pairs(events):
    tracker = HandleTracker()
    pairs = []
    for event in events:
        lifetime = tracker.observe(event, time_ns(event.system["TimeCreated"]))
        if lifetime is not None:
            pairs.append((lifetime.opened.origin.record, lifetime.closed.origin.record))
    return pairs, tracker


def test_a_close_pairs_with_the_most_recent_open_and_discards_older_ones():
    events = [
        _event(4656, 1, ObjectName="first"),
        _event(4656, 2, ObjectName="second"),
        _event(4658, 3),
        _event(4658, 4),
    ]
    pairs, tracker = _pairs(events)
    assert pairs == [(2000, 3000)]
    assert (tracker.paired, tracker.unmatched_closes, tracker.discarded_opens, len(tracker.open)) == (1, 1, 1, 0)


def test_a_close_timed_before_the_open_does_not_close_it():
    # out of order beyond the re-ordering window: in time order the close came first, so it closes nothing
    events = [_event(4656, 5, record=1), _event(4658, 2, record=2), _event(4658, 6, record=3)]
    pairs, tracker = _pairs(events)
    assert pairs == [(1, 3)]
    assert (tracker.closes, tracker.paired, tracker.unmatched_closes, len(tracker.open)) == (2, 1, 1, 0)
    assert tracker.summary()["by_process"][r"C:\Windows\System32\svchost.exe"]["mean_seconds"] == 1.0


def test_past_the_limit_the_oldest_open_handle_is_forgotten():
    tracker = HandleTracker(max_open=2)
    for seconds, handle in ((1, "0x1"), (2, "0x2"), (3, "0x1"), (4, "0x3")):  # 0x1 reopened: now the newest
        tracker.observe(_event(4656, seconds, handle=handle), None)
    assert list(key[2] for key in tracker.open) == ["0x1", "0x3"]
    assert (tracker.forgotten_opens, tracker.discarded_opens) == (1, 1)
    assert tracker.observe(_event(4658, 5, handle="0x2"), None) is None


def test_failed_requests_and_handle_zero_open_nothing():
    events = [
        _event(4656, 1, keywords="0x8010000000000000"),
        _event(4658, 2),
        _event(4656, 3, handle="0x0"),
        _event(4658, 4, handle="0x0"),
        _event(4656, 5, keywords=["Audit Failure"]),
        _event(4658, 6),
    ]
    pairs, tracker = _pairs(events)
    assert pairs == []
    assert (tracker.not_opened, tracker.unmatched_closes) == (3, 3)


def test_an_open_without_keywords_counts_as_succeeded():
    pairs, _tracker = _pairs([_event(4656, 1, keywords=None), _event(4658, 2)])
    assert pairs == [(1000, 2000)]


def test_keys_are_host_process_and_handle():
    events = [
        _event(4656, 1, host="A"),
        _event(4656, 2, pid="0x4D1"),
        _event(4658, 3, host="B"),
        _event(4658, 4, pid="0x4d1"),
        _event(4658, 5),
    ]
    pairs, tracker = _pairs(events)
    assert pairs == [(2000, 4000)]  # ProcessId compares as a number, host and handle as written
    assert tracker.unmatched_closes == 2 and len(tracker.open) == 1


def test_lifetime_carries_duration_and_the_object_of_the_open():
    tracker = HandleTracker()
    opened = _event(4656, 1.25, ObjectType="File", ObjectName=r"C:\secret.txt", AccessMask="0x1")
    tracker.observe(opened, time_ns(opened.system["TimeCreated"]))
    tracker.observe(_event(4663, 2, AccessMask="0x1"), time_ns("2026-01-01T00:00:02Z"))
    lifetime = tracker.observe(_event(4658, 4.75), time_ns("2026-01-01T00:00:04.75Z"))
    assert lifetime.seconds == 3.5
    assert (lifetime.opened.object_type, lifetime.opened.object_name, lifetime.access_count) == (
        "File",
        r"C:\secret.txt",
        1,
    )
    assert tracker.summary()["by_process"] == {
        r"C:\Windows\System32\svchost.exe": {"handles": 1, "mean_seconds": 3.5, "longest_seconds": 3.5}
    }


def test_time_parsing_keeps_every_precision_and_zone():
    assert time_ns("2015-09-22T00:15:42.910428100Z") == 1442880942910428100
    assert time_ns("2020-10-18 10:56:14.646") == time_ns("2020-10-18T10:56:14.646Z")
    assert time_ns("2020-10-18T12:56:14+02:00") == time_ns("2020-10-18T10:56:14Z")
    assert time_ns("not a time") is None
    assert format_ns(1442880942910428100) == "2015-09-22T00:15:42.910428Z"


def _timed(event_id, seconds, record=None, host="WS1", path="test"):
    system = {"EventID": event_id, "Computer": host, "TimeCreated": f"2026-01-01T00:00:{seconds:09.6f}Z"}
    if record is not None:
        system["EventRecordID"] = record
    return Event(system, {}, Origin(path, int(seconds * 1000) if record is None else record))


def _released(order, events):
    out = [event for event in events for _time, event in order.push(time_ns(event.system["TimeCreated"]), event)]
    return out + [event for _time, event in order.drain()]


def test_time_order_restores_order_within_the_window_ties_by_record_number():
    order = TimeOrder(window=3)
    events = [
        _timed(4656, seconds, record) for seconds, record in ((5, 1), (3, 3), (3, 2), (1, 4), (9, 5), (8, 6), (7, 7))
    ]
    released = _released(order, events)
    assert [event.system["EventRecordID"] for event in released] == [4, 2, 3, 1, 7, 6, 5]
    assert order.late == 0 and len(order.heap) == 0


def test_time_order_passes_on_what_comes_too_late_and_counts_it():
    order = TimeOrder(window=1)
    released = _released(order, [_timed(4656, seconds, record) for record, seconds in enumerate((5, 6, 1), 1)])
    assert [event.system["EventRecordID"] for event in released] == [1, 3, 2] and order.late == 1


def test_without_record_numbers_ties_follow_the_direction_the_file_runs():
    oldest_first = [
        _timed(4656, 1),
        _timed(4658, 2),
        _timed(4656, 2.5),
        _timed(4663, 2.5),
        _timed(4658, 2.5),
        _timed(4658, 3),
    ]
    newest_first = [
        _timed(event.event_id, float(event.system["TimeCreated"][17:-1]), path="reversed")
        for event in reversed(oldest_first)
    ]
    assert [event.event_id for event in _released(TimeOrder(), oldest_first)] == [4656, 4658, 4656, 4663, 4658, 4658]
    assert [event.event_id for event in _released(TimeOrder(), newest_first)] == [4656, 4658, 4656, 4663, 4658, 4658]
    # a newest-first file longer than the window: the direction is voted on its first window of events
    assert [event.event_id for event in _released(TimeOrder(window=4), newest_first)][2:5] == [4656, 4663, 4658]


def test_equal_times_of_different_hosts_order_the_same_whichever_way_the_file_runs():
    events = [_timed(4656, 1, 10, host="B"), _timed(4656, 1, 20, host="A"), _timed(4658, 1, 11, host="B")]
    forward = _released(TimeOrder(), events)
    assert [event.system["EventRecordID"] for event in forward] == [20, 10, 11]
    assert _released(TimeOrder(), events[::-1]) == forward


def test_reversed_input_gives_the_same_pairs_as_ordered_input():
    # the Exchange-like case: open, close, open, close of one handle, all in one millisecond
    events = [
        _event(4656, 1, record=1),
        _event(4663, 2, record=2),
        _event(4658, 3, record=3),
        _event(4656, 4, record=4),
        _event(4658, 4, record=5),
        _event(4656, 4, record=6),
        _event(4658, 4, record=7),
    ]
    for event in events:
        event.system["EventRecordID"] = event.origin.record
    forward = _hunt_pairs(events)
    assert forward == [(1, 3), (4, 5), (6, 7)]
    assert _hunt_pairs(list(reversed(events))) == forward


def test_the_exchange_case_without_record_numbers_pairs_the_same_both_ways():
    events = [
        _event(4656, 0.5, record=1),
        _event(4656, 4, record=4),
        _event(4658, 4, record=5),
        _event(4656, 4, record=6),
        _event(4658, 4, record=7),
        _event(4658, 5, record=8),
    ]
    assert _hunt_pairs(events) == [(4, 5), (6, 7)]
    reversed_events = [
        Event(event.system, event.data, Origin("reversed", event.origin.record)) for event in events[::-1]
    ]
    assert _hunt_pairs(reversed_events) == [(4, 5), (6, 7)]


def _hunt_pairs(events):
    tracker = HandleTracker()
    order = TimeOrder()
    pairs = []
    for event in events:
        for time, item in order.push(time_ns(event.system["TimeCreated"]), event):
            lifetime = tracker.observe(item, time)
            pairs += [(lifetime.opened.origin.record, lifetime.closed.origin.record)] if lifetime else []
    for time, item in order.drain():
        lifetime = tracker.observe(item, time)
        pairs += [(lifetime.opened.origin.record, lifetime.closed.origin.record)] if lifetime else []
    return pairs


@pytest.mark.parametrize("relative", sorted(EXPECTED_PAIRS))
def test_corpus_pairs_per_file_match_the_issue(relative):
    path = corpus_path(*relative.split("/"))
    hunt = Hunt()
    findings = [item for item in hunt.run([path]) if isinstance(item, Finding)]
    lifetime = hunt.summary.lifetime
    assert (lifetime["paired"], lifetime["closes"]) == EXPECTED_PAIRS[relative]
    assert lifetime["unmatched_closes"] == lifetime["closes"] - lifetime["paired"]
    assert all(finding.number != 6 or finding.details["duration_seconds"] > 3600 for finding in findings)


def test_dumpert_export_runs_newest_first_and_is_put_back_in_order():
    hunt = Hunt()
    findings = [
        item
        for item in hunt.run([corpus_path("json", "cmd_lsass_memory_dumpert_syscalls.zip")])
        if isinstance(item, Finding) and item.number == 5
    ]
    # lsass handles 0xc4, 0x108 and 0xbc pair: the export has no record numbers and runs newest first, so
    # within a millisecond the later line comes first: each open before its access and its close
    assert sorted(finding.handle_id for finding in findings) == ["0x108", "0xbc", "0xc4"]
    findings = [finding for finding in findings if finding.handle_id == "0xc4"]
    assert findings[0].details["object_name"] == r"\Device\HarddiskVolume2\Windows\System32\lsass.exe"
    assert [event["event_id"] for event in findings[0].details["events"]] == [4656, 4663, 4658]
    assert hunt.summary.lifetime["paired"] == 3 and hunt.summary.late_events == 0
