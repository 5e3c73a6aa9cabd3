"""Against real servers: the generated Kibana rules and Splunk saved searches find, in the bundled examples, exactly
what `win4658 hunt` finds.

Elasticsearch runs when WIN4658_ES_URL is set (WIN4658_ES_API_KEY or WIN4658_ES_USER/WIN4658_ES_PASSWORD, optional
WIN4658_ES_CA_CERTS): the examples are shipped through the pipeline into a fresh index, each rule runs with the EQL
search API, and the hits (by record id) must equal the local engine's. Splunk runs when WIN4658_SPLUNK_URL is set
with WIN4658_SPLUNK_TOKEN (or WIN4658_SPLUNK_USER/WIN4658_SPLUNK_PASSWORD) and TA-win4658 is installed: the
examples, moved to the last hours under a unique host, go into WIN4658_SPLUNK_INDEX (default win4658_test) and every
saved search of savedsearches.conf runs on them.
"""

import configparser
import os
import random
import time
import uuid
from collections import Counter
from datetime import datetime, timezone

import pytest

from tests.support.live_splunk import SPLUNK_REASON, SPLUNK_SET, splunk_index
from tests.support.paths import ROOT
from win4658.detections import splunk as splunk_searches
from win4658.detections.definitions import load_bundle
from win4658.detections.engine import EventDetections, Finding
from win4658.detections.lifetime import HandleTracker
from win4658.detections.local_hunt import Hunt
from win4658.event import Event
from win4658.examples import EXAMPLE_FILES
from win4658.readers import read_paths
from win4658.times import format_ns, time_ns

DETECTIONS = load_bundle()
HANDLE_EVENTS = frozenset({4656, 4658, 4663})
ES_REASON = "WIN4658_ES_URL is not set: no Elasticsearch cluster to run the detection rules against"


def _examples():
    events = [event for event in read_paths(EXAMPLE_FILES, HANDLE_EVENTS) if isinstance(event, Event)]
    return sorted(events, key=lambda event: time_ns(event.system["TimeCreated"]))


def _local_record_hits(detection, events):
    """Record ids the local engine flags (pairs of record ids for the lifetime sequence)."""
    if detection.kind == "handle_lifetime":
        tracker, hits = HandleTracker(), []
        records = {event.origin: str(event.system["EventRecordID"]) for event in events}
        for event in events:
            lifetime = tracker.observe(event, time_ns(event.system["TimeCreated"]))
            if lifetime is not None:
                hits.append((records[lifetime.opened.origin], records[lifetime.closed.origin]))
        return sorted(hits)
    detections = EventDetections([detection])
    return sorted((str(event.system["EventRecordID"]),) for event in events if detections.findings(event, None))


# --- Elasticsearch -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def es_index():
    if not os.environ.get("WIN4658_ES_URL"):
        pytest.skip(ES_REASON)
    from elasticsearch import NotFoundError

    from win4658.elasticsearch.client import connect, request, settings_from
    from win4658.elasticsearch.install import install, uninstall
    from win4658.elasticsearch.ship import ShipSummary, ship

    name = f"test-win4658-detections-{uuid.uuid4().hex[:12]}"
    index = f"{name}-events"
    client = connect(settings_from(os.environ))
    if not client.server.eql:
        pytest.skip(
            f"{client.server} cannot run the rules' EQL (`regex~`, `:` lists): Elasticsearch 7.12+, "
            "default distribution"
        )
    try:
        install(client, name, name, [f"{name}-*"])
        summary = ShipSummary()
        results = list(ship(client, EXAMPLE_FILES, index, HANDLE_EVENTS, summary, name))
        assert all(result.ok for result in results) and summary.indexed == len(_examples())
        request(client, "POST", f"/{index}/_refresh")
        yield client, index
    finally:
        try:
            request(client, "DELETE", f"/{index}")
        except NotFoundError:
            pass
        finally:
            uninstall(client, name, name)


def _eql_record_hits(client, index, query, tiebreaker):
    from win4658.elasticsearch.client import request

    body = {"query": query, "size": 1000, "tiebreaker_field": tiebreaker}  # equal times in the log's order, as Kibana
    hits = request(client, "POST", f"/{index}/_eql/search", body)["hits"]
    if "sequences" in hits:
        return sorted(
            tuple(event["_source"]["winlog"]["record_id"] for event in sequence["events"])
            for sequence in hits["sequences"]
        )
    return sorted((event["_source"]["winlog"]["record_id"],) for event in hits.get("events", []))


@pytest.mark.parametrize("detection", [d for d in DETECTIONS if d.spec["kibana"]], ids=lambda d: d.id)
def test_kibana_rule_hits_what_hunt_hits_in_elasticsearch(es_index, detection):
    from win4658.detections.fields import installed
    from win4658.detections.kibana import LIFETIME_TIEBREAKER, query

    client, index = es_index
    expected = _local_record_hits(detection, _examples())
    assert expected, "the examples must give every rule something to find"
    ecs = installed("ecs")
    assert _eql_record_hits(client, index, query(detection, ecs), ecs(LIFETIME_TIEBREAKER)) == expected


# --- Splunk --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def splunk_events():
    """The examples moved to the last minutes, under a host name of their own."""
    if not SPLUNK_SET:
        pytest.skip(SPLUNK_REASON)
    from win4658.splunk.app import APP_ID
    from win4658.splunk.client import ConnectionSettings, connect

    service = connect(ConnectionSettings.from_environment(os.environ))
    assert APP_ID in service.apps, f"{APP_ID} is not installed: install the package first"
    with splunk_index(service) as index:
        yield _submit_examples(service, index)


def _submit_examples(service, index):
    from win4658.splunk.runtime.render import render_event_xml

    host = f"win4658-live-{random.randint(10**8, 10**9)}"
    moved = _moved_to_the_last_minutes(_examples(), host)
    for event in moved:
        service.indexes[index].submit(
            render_event_xml(event), sourcetype="XmlWinEventLog", source="XmlWinEventLog:Security", host=host
        )
    _wait_for(service, index, host, len(moved))
    return service, index, host, moved


def _moved_to_the_last_minutes(events, host):
    """The events under ``host``, each file's moved so that its last event happened a minute ago (the examples are
    years apart: Splunk restamps events older than MAX_DAYS_AGO and the searches look at the last day), in time
    order."""
    now = time_ns(datetime.now(timezone.utc).isoformat())
    last = {}
    for event in events:
        last[event.origin.path] = max(last.get(event.origin.path, 0), time_ns(event.system["TimeCreated"]))
    moved = []
    for event in events:
        at = time_ns(event.system["TimeCreated"]) + now - 60 * 10**9 - last[event.origin.path]
        moved.append(
            Event(dict(event.system, Computer=host, TimeCreated=format_ns(at)), dict(event.data), event.origin)
        )
    return sorted(moved, key=lambda event: time_ns(event.system["TimeCreated"]))


def _wait_for(service, index, host, count):
    from win4658.splunk.client import run_search

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        rows = list(run_search(service, f"search index={index} host={host} | stats count", earliest_time="-1d"))
        if rows and int(rows[0]["count"]) >= count:
            return
        time.sleep(2)
    pytest.fail(f"the {count} example events did not appear in index {index} within 120 s")


def _saved_search_rows(service, index, host, detection):
    from win4658.splunk.client import run_search

    saved = configparser.ConfigParser(interpolation=None, delimiters=("=",))
    saved.optionxform = str
    saved.read(os.path.join(ROOT, "addon", "default", "savedsearches.conf"), encoding="utf-8")
    text = saved[splunk_searches.stanza_name(detection)]["search"]
    scoped = text.replace("`win4658_events`", f"`win4658_events` index={index} host={host}", 1)
    return list(run_search(service, "search " + scoped, earliest_time="-1d", latest_time="+1h"))


def _local_findings(events, number):
    hunt = Hunt()
    findings = []
    for event in events:  # already in time order
        findings += [finding for finding in hunt.per_event.findings(event, None) if finding.number == number]
    return findings


@pytest.mark.parametrize("number", [1, 2, 3, 4])
def test_splunk_saved_search_finds_what_hunt_finds(splunk_events, number):
    service, index, host, events = splunk_events
    detection = next(d for d in DETECTIONS if d.number == number)
    rows = _saved_search_rows(service, index, host, detection)
    expected = Counter((finding.process, finding.handle_id) for finding in _local_findings(events, number))
    assert expected and Counter((row["process_path"], row["HandleId"]) for row in rows) == expected


def test_splunk_lifetime_search_reports_the_long_handle(splunk_events):
    service, index, host, events = splunk_events
    detection = next(d for d in DETECTIONS if d.kind == "handle_lifetime")
    hunt = Hunt()
    tracker = HandleTracker()
    expected = []
    for event in events:
        lifetime = tracker.observe(event, time_ns(event.system["TimeCreated"]))
        if lifetime is not None and lifetime.seconds > hunt.long_handle_seconds:
            expected.append((lifetime.closed.data["HandleId"], round(lifetime.seconds, 3), lifetime.opened.object_name))
    rows = _saved_search_rows(service, index, host, detection)
    assert expected == [(row["HandleId"], round(float(row["duration_seconds"]), 3), row["object_name"]) for row in rows]


def test_splunk_trace_search_lists_each_handle_seen_in_more_than_one_event_code(splunk_events):
    service, index, host, events = splunk_events
    detection = next(d for d in DETECTIONS if d.kind == "handle_trace")
    codes = {}
    for event in events:
        codes.setdefault((event.data["ProcessId"], event.data["HandleId"]), set()).add(event.event_id)
    expected = sorted(handle for (_pid, handle), seen in codes.items() if len(seen) > 1)
    rows = _saved_search_rows(service, index, host, detection)
    assert sorted(row["HandleId"] for row in rows) == expected


def test_examples_exercise_every_detection_locally():
    findings = [item for item in Hunt().run(EXAMPLE_FILES) if isinstance(item, Finding)]
    assert {finding.number for finding in findings} == {1, 2, 3, 4, 5, 6}
