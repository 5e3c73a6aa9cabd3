"""The dashboards: valid Simple XML 1.1 in the app's nav, panels reading only the add-on's fields, and each panel's
event selection replayed on the sample (in every form and channel) and on the corpus with the add-on's knowledge
(tests/support/spl_eval.py's search_time_fields, tests/support/spl_search.py). What follows the first pipe runs only
on a real Splunk (tests/live/test_splunk_live.py)."""

import configparser
import os
import re
import xml.etree.ElementTree as ET
from collections import Counter

import pytest

from tests.support.paths import ROOT
from tests.support.sample import CLASSIC_SAMPLE, sample_event
from tests.support.spl_eval import search_time_fields
from tests.support.spl_search import (
    DETECTION_DERIVED_FIELDS,
    SEARCH_FIELDS,
    BaseSearch,
    fields_used,
    trace_selection,
)
from win4658.detections import splunk as detection_searches
from win4658.detections.definitions import load_bundle
from win4658.detections.fields import installed
from win4658.normalize import to_cim
from win4658.splunk import dashboards
from win4658.splunk.runtime.render import render_event_xml

CIM = installed("cim")
# the dashboards of the events (the handle sessions dashboard: tests/sessions/test_splunk_reads.py)
DASHBOARDS = [dashboards.handle_activity(load_bundle(), CIM), dashboards.audit_volume(CIM)]
PANELS = [
    (dashboard.name, panel, search)
    for dashboard in DASHBOARDS
    for panel, search in zip([p for row in dashboard.rows for p in row], dashboards.panel_searches(dashboard))
]
SAMPLE_FORMS = [("XmlWinEventLog", f"XmlWinEventLog:{channel}") for channel in ("Security", "ForwardedEvents")] + [
    ("WinEventLog", f"WinEventLog:{channel}") for channel in ("Security", "ForwardedEvents")
]


def _view(name):
    with open(os.path.join(ROOT, dashboards.VIEWS_DIR, f"{name}.xml"), encoding="utf-8") as stream:
        return ET.fromstring(stream.read())


def test_views_are_simple_xml_1_1_in_the_nav_of_a_visible_app():
    for dashboard in DASHBOARDS:
        root = _view(dashboard.name)
        assert (root.tag, root.get("version"), root.findtext("label")) == ("dashboard", "1.1", dashboard.label)
        queries = [element.text for element in root.iter("query")]
        assert len(queries) == len(dashboard.base_searches) + sum(len(row) for row in dashboard.rows)
    with open(os.path.join(ROOT, dashboards.NAV), encoding="utf-8") as stream:
        nav = ET.fromstring(stream.read())
    views = [view.get("name") for view in nav.iter("view")]
    assert views == ["win4658_handle_activity", "win4658_audit_volume", dashboards.SESSIONS_VIEW, "search"]
    app = configparser.RawConfigParser()
    app.read(os.path.join(ROOT, "addon", "default", "app.conf"), encoding="utf-8")
    assert app.get("ui", "is_visible") == "true"


@pytest.mark.parametrize("view, panel, search", PANELS, ids=[f"{v}:{p.title[:30]}" for v, p, _s in PANELS])
def test_panels_use_only_fields_the_add_on_produces(view, panel, search):
    used = fields_used(search)
    assert used - DETECTION_DERIVED_FIELDS - dashboards.DERIVED_FIELDS <= SEARCH_FIELDS, used - SEARCH_FIELDS


def test_the_only_dollar_signs_in_panels_are_tokens():
    """Simple XML replaces $name$; a literal $ of a detection's search would break the panel."""
    tokens = {"time.earliest", "time.latest", *dashboards.TRACE_TOKENS}
    for dashboard in DASHBOARDS:
        text = "".join(element.text for element in _view(dashboard.name).iter("query"))
        assert set(re.findall(r"\$([^$]*)\$", text)) <= tokens
        assert text.count("$") % 2 == 0


def test_findings_cover_every_alerting_detection_and_drill_down_to_the_trace():
    findings = DASHBOARDS[0].base_searches["findings"]
    for detection in load_bundle():
        assert (detection_searches.search(detection, CIM) in findings) == (detection.kind != "handle_trace")
    trace = next(p for row in DASHBOARDS[0].rows for p in row if p.query == dashboards.trace_search())
    assert trace.depends == "$trace_handle$"
    drill_sources = [p for row in DASHBOARDS[0].rows for p in row if p.drilldown_to_trace]
    assert [p.title for p in drill_sources] == ["Findings", "Longest handles"]
    for columns in (dashboards.finding_columns(CIM), dashboards.lifetime_columns(CIM)):
        assert {"dest", "process_id", "HandleId"} <= set(columns.split())
    root = _view(DASHBOARDS[0].name)
    sets = [[(s.get("token"), s.text) for s in drilldown.iter("set")] for drilldown in root.iter("drilldown")]
    assert (
        sets
        == [[("trace_dest", "$row.dest$"), ("trace_pid", "$row.process_id$"), ("trace_handle", "$row.HandleId$")]] * 2
    )


# --- the panels' event selection, replayed --------------------------------------------------------------------
def _event_search(search):
    """The first command of a search, or None when it starts elsewhere (the trace macro, handled below)."""
    return BaseSearch(search) if search.startswith("`win4658_events`") else None


def _fields(raw, sourcetype, source):
    return dict(search_time_fields(raw, sourcetype, source), index="wineventlog", sourcetype=sourcetype, source=source)


def _sample_fields(sourcetype, source, event_code=4658):
    raw = CLASSIC_SAMPLE if sourcetype == "WinEventLog" else render_event_xml(sample_event())
    raw = raw.replace(">4658<", f">{event_code}<").replace("EventCode=4658", f"EventCode={event_code}")
    return _fields(raw, sourcetype, source)


# Which event codes of the sample each panel's first command keeps (the sample has a ProcessName and a HandleId)
SELECTS = {
    "Handles closed by host": {4658},
    "Handles closed by process": {4658},
    "Findings per detection": {4658},
    "Findings": {4658},
    # the lifetime panels read the 4663s too: the direction a source runs is voted on the handle events it holds
    "Handle durations": {4656, 4658, 4663},
    "Longest handles": {4656, 4658, 4663},
    "Handle lifetimes per process": {4656, 4658, 4663},
    "Events by event code": {4656, 4658, 4663},
    "Hosts": {4656, 4658, 4663},
    "Processes": {4656, 4658, 4663},
}


@pytest.mark.parametrize("sourcetype, source", SAMPLE_FORMS)
def test_each_panel_selects_the_sample_in_every_form(sourcetype, source):
    by_code = {code: _sample_fields(sourcetype, source, code) for code in (4624, 4656, 4658, 4663, 4690)}
    replayed = 0
    for _view_name, panel, search in PANELS:
        selection = _event_search(search)
        if selection is None:
            continue
        kept = {code for code, fields in by_code.items() if selection.matches(fields)}
        assert kept == SELECTS[panel.title], panel.title
        replayed += 1
    assert replayed == len(SELECTS) == len(PANELS) - 1


@pytest.fixture(scope="module")
def corpus_fields(corpus_events):
    """Search-time fields of every corpus event as XmlWinEventLog from the Security channel, with its to_cim."""
    return [
        (event, _fields(render_event_xml(event), "XmlWinEventLog", "XmlWinEventLog:Security"))
        for event in corpus_events
    ]


WITH_PROCESS, WITH_HANDLE = 5419, 7942  # every 4658 names its process; every 4656 and 4658 its handle
WITH_HANDLE_ACCESS = 2134  # and every 4663


def test_panels_select_on_the_corpus_what_the_normalizer_says(corpus_fields):
    """Counted from the events themselves (event id, to_cim's process_path / process_id, the HandleId)."""
    codes = Counter(event.event_id for event, _fields in corpus_fields)
    with_process = sum(1 for event, _f in corpus_fields if event.event_id == 4658 and to_cim(event).get("process_path"))
    with_handle = Counter(
        event.event_id
        for event, _f in corpus_fields
        if to_cim(event).get("process_id") is not None and event.data.get("HandleId")
    )
    expected = {
        "Handles closed by host": codes[4658],
        "Handles closed by process": codes[4658],
        "Findings per detection": with_process,
        "Findings": with_process,
        **dict.fromkeys(
            ("Handle durations", "Longest handles", "Handle lifetimes per process"), sum(with_handle.values())
        ),
        "Events by event code": len(corpus_fields),
        "Hosts": len(corpus_fields),
        "Processes": len(corpus_fields),
    }
    for _view_name, panel, search in PANELS:
        selection = _event_search(search)
        if selection is not None:
            assert sum(1 for _event, fields in corpus_fields if selection.matches(fields)) == expected[panel.title]
    assert codes == {4656: 2523, 4658: 5419, 4663: 2134}
    assert (with_process, with_handle[4656] + with_handle[4658], with_handle[4663]) == (
        WITH_PROCESS,
        WITH_HANDLE,
        WITH_HANDLE_ACCESS,
    )


@pytest.mark.parametrize("sourcetype, source", SAMPLE_FORMS)
def test_the_trace_drill_down_finds_the_samples_handle(sourcetype, source):
    fields = _sample_fields(sourcetype, source)
    assert trace_selection(fields["dest"], fields["process_id"], fields["HandleId"]).matches(fields)
    assert not trace_selection(fields["dest"], fields["process_id"], "0x18a9").matches(fields)


def test_the_trace_drill_down_finds_every_event_of_a_corpus_handle(corpus_fields):
    opened = next(
        event
        for event, _fields in corpus_fields
        if event.event_id == 4656 and event.data.get("HandleId") not in (None, "0x0")
    )
    key = (opened.system["Computer"], int(opened.data["ProcessId"], 16), opened.data["HandleId"])
    selection = trace_selection(*key)
    expected = sum(
        1
        for event, _f in corpus_fields
        if (event.system["Computer"], int(event.data["ProcessId"], 16), event.data["HandleId"]) == key
    )
    assert expected >= 2
    assert sum(1 for _event, fields in corpus_fields if selection.matches(fields)) == expected
