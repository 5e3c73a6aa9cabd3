"""Against a real Splunk with TA-win4658 installed: the handle-session search, collect included, run as its hourly
schedule runs it, writes summary events that are the local sessions field by field, each once
(tests/sessions/test_splunk.py replays the same comparison on every corpus file), and the lifetime detection over
the sessions finds the local long handles.

Runs when WIN4658_SPLUNK_URL is set with WIN4658_SPLUNK_TOKEN (or WIN4658_SPLUNK_USER / WIN4658_SPLUNK_PASSWORD);
the user needs to create and remove indexes (admin). The bundled examples and three corpus files, each under a host
name of its own, go into a fresh index win4658_sessions_<random>, moved into one whole hour a day ago (a source
that spans more than half an hour, the examples, has its events put one millisecond apart in the log's order).
The search reads them there and collects the sessions into the same index twice, as the scheduled runs do: the run
whose last hour is that hour (what ended in it) and the run whose first hour is that hour (what is still open when
it leaves the range). The index is removed at the end, whatever the outcome.
"""

import os
import time
import uuid

import pytest

from tests.support.live_splunk import SPLUNK_REASON, SPLUNK_SET
from tests.support.paths import corpus_path
from tests.support.sessions_replay import comparable, expected_summary, log_order
from win4658.detections.lifetime import HandleTracker
from win4658.event import Event
from win4658.examples import EXAMPLE_FILES
from win4658.readers import read_paths
from win4658.sessions import splunk as session_splunk
from win4658.sessions.fields import cim_names, session_spec
from win4658.sessions.record import session_record
from win4658.times import format_ns, time_ns

pytestmark = pytest.mark.skipif(not SPLUNK_SET, reason=SPLUNK_REASON)
HANDLE_EVENTS = frozenset({4656, 4658, 4663})
# the examples, and corpus files with accesses named by object type and privileges
CORPUS_SOURCES = (
    "evtx/EVTX-to-MITRE-Attack/ID4688-4663-4656-LSASS_dump_with_LSASSY_process_.evtx",
    "evtx/EVTX-ATTACK-SAMPLES/CA_hashdump_4663_4656_lsass_access.evtx",
    "json/cmd_dumping_ntds_dit_file_ntdsutil.zip",
)


def _sources():
    return [EXAMPLE_FILES] + [[corpus_path(*relative.split("/"))] for relative in CORPUS_SOURCES]


WAIT_SECONDS = 180
CIM_FIELDS = [field["cim"] for field in session_spec()["fields"]] + list(session_spec()["cim_constants"])


@pytest.fixture(scope="module")
def splunk_index():
    from win4658.splunk.app import APP_ID
    from win4658.splunk.client import ConnectionSettings, connect

    service = connect(ConnectionSettings.from_environment(os.environ))
    assert APP_ID in service.apps, f"{APP_ID} is not installed: install the package first"
    name = f"win4658_sessions_{uuid.uuid4().hex[:12]}"
    service.indexes.create(name)
    try:
        yield service, name
    finally:
        service.indexes.delete(name)


HOUR = session_splunk.PERIOD_SECONDS
SPREAD_SECONDS = 30 * 60  # a source spanning more than this has its events put 1 ms apart (the order kept)


def _hour():
    """The whole hour the events go into: the 25th before the current one, so that both runs are in the past."""
    return (int(time.time()) // HOUR - 25) * HOUR


def _moved(events, host):
    """The events in the log's order, under one host, within _hour(): the last 45 minutes into it."""
    ordered = log_order(events)
    times = [time_ns(event.system["TimeCreated"]) for event in ordered]
    if max(times) - min(times) > SPREAD_SECONDS * 10**9:
        times = [index * 10**6 for index in range(len(ordered))]
    shift = (_hour() + 45 * 60) * 10**9 - max(times)
    return [
        Event(dict(event.system, Computer=host, TimeCreated=format_ns(moved + shift)), dict(event.data), event.origin)
        for event, moved in zip(ordered, times)
    ]


def local_sessions(events):
    lifetimes = []
    tracker = HandleTracker(on_end=lifetimes.append)
    for event in events:
        tracker.observe(event, time_ns(event.system["TimeCreated"]))
    tracker.end()
    return [session_record(lifetime) for lifetime in lifetimes]


def _count(service, search):
    from win4658.splunk.client import run_search

    rows = list(run_search(service, search + " | stats count"))
    return int(rows[0]["count"]) if rows else 0


def _wait_for(service, search, count):
    deadline = time.monotonic() + WAIT_SECONDS
    while _count(service, search) < count:
        if time.monotonic() > deadline:
            pytest.fail(f"{count} results of `{search}` did not appear within {WAIT_SECONDS} s")
        time.sleep(2)


@pytest.fixture(scope="module")
def sent(splunk_index):
    """The local sessions of every source moved to its own host, once its events are searchable."""
    from win4658.splunk.runtime.render import render_event_xml

    service, index = splunk_index
    run = uuid.uuid4().hex[:8]
    sessions, total = [], 0
    for number, paths in enumerate(_sources()):
        events = _moved(
            [item for item in read_paths(paths, HANDLE_EVENTS) if isinstance(item, Event)],
            f"win4658-sessions-{run}-{number}",
        )
        for event in events:  # in the log's order, so that the indexed position runs with it
            service.indexes[index].submit(
                render_event_xml(event),
                sourcetype="XmlWinEventLog",
                source="XmlWinEventLog:Security",
                host=event.system["Computer"],
            )
        sessions += local_sessions(events)
        total += len(events)
    _wait_for(service, f"search index={index} sourcetype=XmlWinEventLog", total)
    return sessions


@pytest.fixture(scope="module")
def summary(splunk_index, sent):
    """The summary events of the two runs that write the hour of the events, once they are searchable."""
    from win4658.splunk.client import run_search

    service, index = splunk_index
    search = (
        session_splunk.session_search()
        .replace("`win4658_events`", f"`win4658_events` index={index}", 1)
        .replace(f"`{session_splunk.SUMMARY_INDEX_MACRO}`", index)
    )
    hour, range_seconds = _hour(), 24 * HOUR
    for earliest, latest in ((hour + HOUR - range_seconds, hour + HOUR), (hour, hour + range_seconds)):
        list(run_search(service, "search " + search, earliest_time=str(earliest), latest_time=str(latest)))
    summary = f'search index={index} sourcetype="{session_splunk.SOURCETYPE}"'
    _wait_for(service, summary, len(sent))
    return summary


def test_the_summary_index_holds_the_local_sessions_field_by_field(splunk_index, sent, summary):
    from win4658.splunk.client import run_search

    service, _index = splunk_index
    rows = list(run_search(service, f"{summary} | table {' '.join(CIM_FIELDS)}"))
    found = sorted(
        comparable({name: value for name, value in row.items() if name in CIM_FIELDS and value != ""}) for row in rows
    )
    assert found == sorted(comparable(expected_summary(record)) for record in sent)  # each session once


def test_the_session_detection_finds_the_long_handles(splunk_index, sent, summary):
    from win4658.detections import splunk as detection_searches
    from win4658.detections.definitions import by_kind, load_bundle
    from win4658.splunk.client import run_search

    service, index = splunk_index
    threshold = 0.5
    lifetime = by_kind(load_bundle())["handle_lifetime"]
    search = (
        detection_searches.session_search(lifetime, cim_names(session_spec()))
        .replace(f"`{session_splunk.SUMMARY_INDEX_MACRO}`", index)
        .replace(f"`{detection_searches.LONG_HANDLE_MACRO}`", str(threshold))
    )
    found = sorted(
        (row["dest"], int(row["process_id"]), row["handle_id"], row["handle_start"])
        for row in run_search(service, "search " + search)
    )
    expected = sorted(
        (record["host"], record["process_id"], record["handle_id"], record["start"][:26] + "Z")
        for record in sent
        if record["ending"] == "closed" and record["duration_seconds"] > threshold
    )
    assert expected and found == expected
