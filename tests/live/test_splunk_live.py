"""Against a real Splunk with TA-win4658 installed: the sample goes in through the REST API and comes back with
the add-on's CIM fields, eventtype and tags; a saved search of the app runs through `win4658 splunk search`; every
saved search and every dashboard panel search runs with the app's knowledge on the sample without error.

Runs when WIN4658_SPLUNK_URL is set with WIN4658_SPLUNK_TOKEN (or WIN4658_SPLUNK_USER / WIN4658_SPLUNK_PASSWORD).
WIN4658_SPLUNK_INDEX names the test index (default win4658_test; created when missing and then removed afterwards;
an existing index keeps the test events, under host names and record numbers of their own). TLS is verified:
WIN4658_SPLUNK_CA_CERTS names the CA of a self-signed server, WIN4658_SPLUNK_VERIFY=false turns the check off
(docs/live-tests.md). Install the app first:
`win4658 splunk package -o dist && splunk install app dist/TA-win4658-<version>.tgz`.
"""

import configparser
import os
import random
import subprocess
import sys
import time
from datetime import datetime, timezone

import pytest
from splunklib import results

from tests.support.live_splunk import SPLUNK_SET, splunk_index
from tests.support.paths import ROOT, SAMPLE_XML
from tests.support.sample import CIM_FIELDS, EXPECTED_CIM
from win4658.detections.definitions import load_bundle
from win4658.detections.fields import installed
from win4658.event import Event, Origin
from win4658.readers import read_paths
from win4658.sessions.fields import cim_names, session_spec
from win4658.splunk.app import APP_ID
from win4658.splunk.client import URL_VARIABLE, ConnectionSettings, SplunkConnectionError, connect, run_search
from win4658.splunk.dashboards import dashboards, panel_searches
from win4658.splunk.runtime.render import render_event_xml

pytestmark = pytest.mark.skipif(
    not SPLUNK_SET,
    reason="no Splunk: set WIN4658_SPLUNK_URL and WIN4658_SPLUNK_TOKEN "
    "(or WIN4658_SPLUNK_USER/WIN4658_SPLUNK_PASSWORD)",
)
INDEX = os.environ.get("WIN4658_SPLUNK_INDEX", "win4658_test")
WAIT_FOR_INDEXING_SECONDS = 120
# The fields the add-on gives the seed sample, as a search returns them: to_cim's, as text.
EXPECTED = {field: str(EXPECTED_CIM[field]) for field in [*CIM_FIELDS, "HandleId", "ObjectServer"]}
CLASSIC = (
    "{time}\nLogName=Security\nEventCode=4658\nEventType=0\nComputerName=DC01.contoso.local\n"
    "SourceName=Microsoft Windows security auditing.\nType=Information\nRecordNumber={record}\nKeywords=Audit Success\n"
    "TaskCategory=File System\nOpCode=Info\nMessage=The handle to an object was closed.\n\nSubject :\n"
    "\tSecurity ID:\t\tS-1-5-21-3457937927-2839227994-823803824-1104\n\tAccount Name:\t\tdadmin\n"
    "\tAccount Domain:\t\tCONTOSO\n\tLogon ID:\t\t0x4367b\n\nObject:\n\tObject Server:\t\tSecurity\n"
    "\tHandle ID:\t\t0x18a8\n\nProcess Information:\n\tProcess ID:\t\t0xef0\n"
    "\tProcess Name:\t\tC:\\Windows\\explorer.exe\n"
)


@pytest.fixture(scope="module")
def service():
    try:
        service = connect(ConnectionSettings.from_environment(os.environ))
    except SplunkConnectionError as error:
        pytest.fail(str(error))
    assert APP_ID in service.apps, f"{APP_ID} is not installed on {os.environ[URL_VARIABLE]}: install the package first"
    with splunk_index(service) as index:
        assert index == INDEX
        yield service


@pytest.fixture(scope="module")
def windows_ta_installed(service):
    return "Splunk_TA_windows" in service.apps


def _unique_sample():
    sample = next(result for result in read_paths([SAMPLE_XML]) if isinstance(result, Event))
    record = random.randint(10**9, 2 * 10**9)
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"
    return Event(
        dict(sample.system, EventRecordID=str(record), TimeCreated=now), dict(sample.data), Origin("live", 1)
    ), record


def _search_back(service, record, sourcetype):
    query = f'search index={INDEX} sourcetype={sourcetype} "{record}" | eval tags=mvjoin(tag, " ") | fields - _raw'
    deadline = time.monotonic() + WAIT_FOR_INDEXING_SECONDS
    while True:
        rows = list(run_search(service, query, earliest_time="-2h", latest_time="+1h"))
        if rows or time.monotonic() > deadline:
            return rows
        time.sleep(2)


def _check(row, windows_ta_installed):
    """The same fields with or without Splunk_TA_windows: where its EVALs calculate process_id, process_name, user…,
    the win4658_copy lookup puts ours back (README, "Beside Splunk_TA_windows")."""
    found = {field: row.get(field) for field in EXPECTED}
    assert found == EXPECTED, f"Splunk_TA_windows installed: {windows_ta_installed}"
    assert "win4658_handle_closed" in (row["eventtype"] if isinstance(row["eventtype"], list) else [row["eventtype"]])
    assert {"resource", "file", "access", "stop"} <= set(row["tags"].split())


def _sent_and_found(service, raw, sourcetype, record):
    """The event sent to the test index from the Security channel of DC01, searched back: its one row."""
    service.indexes[INDEX].submit(
        raw, sourcetype=sourcetype, source=f"{sourcetype}:Security", host="DC01.contoso.local"
    )
    rows = _search_back(service, record, sourcetype)
    assert len(rows) == 1, f"event {record} not found in index {INDEX}"
    return rows[0]


def test_xml_sample_gets_the_cim_fields(service, windows_ta_installed):
    event, record = _unique_sample()
    _check(_sent_and_found(service, render_event_xml(event), "XmlWinEventLog", record), windows_ta_installed)


def test_classic_sample_gets_the_cim_fields(service, windows_ta_installed):
    record = random.randint(10**9, 2 * 10**9)
    raw = CLASSIC.format(time=datetime.now().strftime("%m/%d/%Y %I:%M:%S %p"), record=record)
    _check(_sent_and_found(service, raw, "WinEventLog", record), windows_ta_installed)


def test_other_event_codes_get_nothing_of_ours(service):
    """A 4624 with the same EventData: no calculated field of ours, so the copy lookups leave it alone."""
    event, record = _unique_sample()
    other = Event(dict(event.system, EventID=4624), dict(event.data), event.origin)
    row = _sent_and_found(service, render_event_xml(other), "XmlWinEventLog", record)
    assert row.get("EventCode") == "4624"
    assert not [field for field in row if field.startswith("win4658_")], row
    assert "win4658_handle_closed" not in str(row.get("eventtype"))


def test_splunk_search_command_dispatches_a_saved_search_of_the_app(service):
    name = f"win4658_live_test_{random.randint(0, 10**9)}"
    service.saved_searches.create(name, f'| makeresults | eval answer=4658, index_checked="{INDEX}"')
    try:
        result = subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from win4658.cli import main; sys.exit(main())",
                "splunk",
                "search",
                name,
            ],
            capture_output=True,
            text=True,
            env=dict(os.environ),
        )
    finally:
        service.saved_searches.delete(name)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1 and '"answer": "4658"' in lines[0]
    assert "1 results" in result.stderr


# --- the dashboards' panel searches and the saved searches, dispatched with the app's knowledge ------------------
def _saved_searches():
    saved = configparser.RawConfigParser(delimiters=("=",), interpolation=None, strict=True)
    saved.optionxform = str
    saved.read(os.path.join(ROOT, "addon", "default", "savedsearches.conf"), encoding="utf-8")
    return [(name, saved.get(name, "search")) for name in saved.sections()]


def _panels():
    return [
        (f"{view.name}: {panel.title}", search)
        for view in dashboards(load_bundle(), installed("cim"), cim_names(session_spec()))
        for panel, search in zip([p for row in view.rows for p in row], panel_searches(view))
    ]


@pytest.fixture(scope="module")
def sample_host(service):
    """The sample under a host and Computer of its own, indexed and searchable."""
    event, record = _unique_sample()
    host = f"win4658-panels-{record}"
    service.indexes[INDEX].submit(
        render_event_xml(Event(dict(event.system, Computer=host), dict(event.data), event.origin)),
        sourcetype="XmlWinEventLog",
        source="XmlWinEventLog:Security",
        host=host,
    )
    assert len(_search_back(service, record, "XmlWinEventLog")) == 1, f"event {record} not found in index {INDEX}"
    return host


def _dispatch(service, search, host):
    """Run a search scoped to the test index and host; fail on a parse error, a failed job or an error message."""
    scoped = search.replace("`win4658_events`", f"`win4658_events` index={INDEX} host={host}")
    tokens = {"$trace_dest$": host, "$trace_pid$": "3824", "$trace_handle$": "0x18a8"}
    for token, value in tokens.items():
        scoped = scoped.replace(token, value)
    query = scoped if scoped.startswith("|") else f"search {scoped}"
    job = service.jobs.create(query, earliest_time="-2h", latest_time="+1h", exec_mode="blocking")
    try:
        job.refresh()
        messages = job.content.get("messages") or {}
        errors = messages.get("error") if isinstance(messages, dict) else None
        assert job["isFailed"] == "0" and not errors, f"{query[:120]}: {messages}"
        return [
            row for row in results.JSONResultsReader(job.results(output_mode="json", count=0)) if isinstance(row, dict)
        ]
    finally:
        job.cancel()


@pytest.mark.parametrize("name, search", _saved_searches(), ids=[name for name, _s in _saved_searches()])
def test_each_saved_search_runs_without_error(service, sample_host, name, search):
    _dispatch(service, search, sample_host)


@pytest.mark.parametrize("title, search", _panels(), ids=[title for title, _s in _panels()])
def test_each_dashboard_panel_search_runs_without_error(service, sample_host, title, search):
    rows = _dispatch(service, search, sample_host)
    if title.endswith(("Handles closed by host", "Audit volume: Hosts")):
        # the sample is one 4658 of this host
        counts = [
            int(row.get(sample_host) or row.get("4658") or 0)
            for row in rows
            if row.get(sample_host) or row.get("dest") == sample_host
        ]
        assert sum(counts) == 1, rows
    if title.endswith("Handle trace: handle $trace_handle$ of process $trace_pid$ on $trace_dest$"):
        assert [(row["EventCode"], row["HandleId"]) for row in rows] == [("4658", "0x18a8")]
