"""The generated Kibana saved objects: unique ids, every reference resolves inside the file, every panel's fields
exist in the generated index template (or are Security alert fields, or, for the handle sessions, in the sessions
template, with a type the panel can aggregate), and the dashboards hold what they promise."""

import json
import os
import re

import pytest

from tests.support.paths import ROOT
from win4658.elasticsearch.template import template_body
from win4658.kibana.dashboards import DASHBOARDS_FILE, INDEX_REF, load_source, saved_objects, with_field_names
from win4658.sessions.elastic import SESSIONS_INDEX_PATTERN, session_field_types
from win4658.sessions.fields import ecs_names, session_spec
from win4658.sources import Sources

# Fields of the Security app's alert documents (Kibana 8.0+) the alert panels read.
ALERT_FIELDS = {
    "kibana.alert.rule.name",
    "kibana.alert.rule.tags",
    "host.name",
    "user.name",
    "process.executable",
    "winlog.event_data.HandleId",
    "@timestamp",
}
KQL_FIELD = re.compile(r"([\w.@]+)\s*:")


def _committed():
    with open(os.path.join(ROOT, DASHBOARDS_FILE), encoding="utf-8") as stream:
        return [json.loads(line) for line in stream]


OBJECTS = _committed()
BY_ID = {item["id"]: item for item in OBJECTS}


def _template_fields():
    mappings = template_body()["template"]["mappings"]
    fields = set()

    def walk(properties, prefix):
        for name, node in properties.items():
            if "properties" in node:
                walk(node["properties"], f"{prefix}{name}.")
            else:
                fields.add(prefix + name)

    walk(mappings["properties"], "")
    dynamic = [next(iter(rule.values()))["path_match"] for rule in mappings["dynamic_templates"]]
    return fields, dynamic


def _event_field_exists(field):
    fields, dynamic = _template_fields()
    return field in fields or any(
        re.fullmatch(pattern.replace(".", r"\.").replace("*", r"[^.]+"), field) for pattern in dynamic
    )


def _search_source(item):
    return json.loads(item["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])


def _fields_used(item):
    fields = set(KQL_FIELD.findall(_search_source(item)["query"]["query"]))
    if item["type"] == "search":
        fields.update(item["attributes"]["columns"])
        fields.update(field for field, _order in item["attributes"]["sort"])
    if item["type"] == "visualization":
        state = json.loads(item["attributes"]["visState"])
        fields.update(agg["params"]["field"] for agg in state["aggs"] if "field" in agg["params"])
        fields.update(agg["params"]["sortField"] for agg in state["aggs"] if "sortField" in agg["params"])
    return fields


def test_the_committed_file_is_the_source_generated():
    assert OBJECTS == list(saved_objects(Sources(ROOT).dashboards))


def test_ids_are_unique_and_every_reference_resolves_to_an_earlier_object():
    assert len(BY_ID) == len(OBJECTS) == 3 + 4 + 11 + 3
    seen = set()
    for item in OBJECTS:
        for reference in item["references"]:
            assert reference["id"] in seen, f"{item['id']} references {reference['id']} before it is defined"
            assert BY_ID[reference["id"]]["type"] == reference["type"]
        seen.add(item["id"])


@pytest.mark.parametrize(
    "item", [item for item in OBJECTS if item["type"] in ("search", "visualization")], ids=lambda item: item["id"]
)
def test_every_field_a_panel_uses_exists_where_it_reads(item):
    (reference,) = item["references"]
    assert reference["name"] == INDEX_REF == _search_source(item)["indexRefName"]
    fields = _fields_used(item)
    assert fields
    if reference["id"] == "win4658-events":
        assert [field for field in sorted(fields) if not _event_field_exists(field)] == []
    elif reference["id"] == "win4658-sessions":
        assert fields - {"@timestamp"} <= set(SESSION_NAMES.values())
        assert fields <= set(session_field_types(SESSION_SPEC))
    else:
        assert reference["id"] == "win4658-alerts" and fields <= ALERT_FIELDS


def test_no_events_panel_counts_the_sessions_its_data_view_also_matches():
    events_pattern = BY_ID["win4658-events"]["attributes"]["title"]
    assert re.fullmatch(events_pattern.replace("*", ".*"), SESSIONS_INDEX_PATTERN.rstrip("*"))
    assert "event.code" not in session_field_types(SESSION_SPEC)
    events_panels = [
        item
        for item in OBJECTS
        if item["type"] in ("search", "visualization") and item["references"][0]["id"] == "win4658-events"
    ]
    assert len(events_panels) == 7
    assert all("event.code" in KQL_FIELD.findall(_search_source(item)["query"]["query"]) for item in events_panels)


def test_field_check_can_fail():
    assert _event_field_exists("winlog.event_data.ObjectName") and _event_field_exists("process.pid")
    assert not _event_field_exists("process.parent.name") and not _event_field_exists("winlog.event_data.a.b")


@pytest.mark.parametrize("dashboard_id", ["win4658-handle-activity", "win4658-audit-volume", "win4658-handle-sessions"])
def test_dashboard_panels_match_their_references(dashboard_id):
    dashboard = BY_ID[dashboard_id]
    panels = json.loads(dashboard["attributes"]["panelsJSON"])
    references = {reference["name"]: reference for reference in dashboard["references"]}
    assert [panel["panelRefName"] for panel in panels] == list(references)
    assert len({(panel["gridData"]["x"], panel["gridData"]["y"]) for panel in panels}) == len(panels)
    assert all(panel["gridData"]["x"] + panel["gridData"]["w"] <= 48 for panel in panels)


def _states(dashboard_id):
    """The visualization states of a dashboard's panels, by id."""
    panels = [BY_ID[reference["id"]] for reference in BY_ID[dashboard_id]["references"]]
    return {
        item["id"]: json.loads(item["attributes"]["visState"]) for item in panels if item["type"] == "visualization"
    }


def test_handle_activity_shows_closes_by_host_and_process_alerts_and_lifetimes():
    states = _states("win4658-handle-activity")
    closed = states["win4658-closed-over-time-by-host"]
    assert [(agg["type"], agg["params"].get("field")) for agg in closed["aggs"]] == [
        ("count", None),
        ("date_histogram", "@timestamp"),
        ("terms", "host.name"),
    ]
    assert [agg["params"].get("field") for agg in states["win4658-closed-by-process"]["aggs"]] == [
        None,
        "host.name",
        "process.executable",
    ]
    lifetimes = states["win4658-handle-lifetimes"]["aggs"]
    assert [(agg["type"], agg["params"].get("field")) for agg in lifetimes] == [
        ("count", None),
        ("min", "@timestamp"),
        ("max", "@timestamp"),
        ("top_hits", "winlog.event_data.ObjectName"),
        ("terms", "host.name"),
        ("terms", "process.name"),
        ("terms", "winlog.event_data.HandleId"),
    ]
    assert _search_source(BY_ID["win4658-detection-alerts"])["query"]["query"] == 'kibana.alert.rule.tags : "win4658"'


def test_the_alert_panels_find_the_generated_rules_by_their_tag():
    with open(os.path.join(ROOT, "detections", "generated", "kibana_rules.ndjson"), encoding="utf-8") as stream:
        rules = [json.loads(line) for line in stream]
    assert rules and all("win4658" in rule["tags"] for rule in rules)


# --- handle sessions ----------------------------------------------------------------------------------------

SESSION_SPEC = session_spec()
SESSION_NAMES = ecs_names(SESSION_SPEC)
NUMBERS = {"long", "double"}


def _aggs(state):
    return [(agg["type"], agg["params"].get("field"), agg["params"].get("orderBy")) for agg in state["aggs"]]


def test_the_sessions_data_view_reads_the_sessions_index_by_its_end():
    data_view = BY_ID["win4658-sessions"]["attributes"]
    assert (data_view["title"], data_view["timeFieldName"]) == (SESSIONS_INDEX_PATTERN, "@timestamp")
    assert session_field_types(SESSION_SPEC)["@timestamp"] == "date"
    assert json.loads(data_view["fieldFormatMap"]) == {
        SESSION_NAMES["duration_ns"]: {
            "id": "duration",
            "params": {"inputFormat": "nanoseconds", "outputFormat": "asSeconds", "outputPrecision": 3},
        }
    }


def test_the_sessions_dashboard_shows_endings_durations_object_types_processes_and_the_longest():
    names = SESSION_NAMES
    states = _states("win4658-handle-sessions")
    assert _aggs(states["win4658-sessions-over-time-by-ending"]) == [
        ("count", None, None),
        ("date_histogram", "@timestamp", None),
        ("terms", names["ending"], "1"),
    ]
    durations = states["win4658-session-durations"]
    assert _aggs(durations) == [
        ("count", None, None),
        ("range", names["duration_seconds"], None),
        ("terms", names["object_type"], "1"),
    ]
    ranges = durations["aggs"][1]["params"]["ranges"]
    assert ranges[0] == {"from": 0, "to": 0.01} and ranges[-1] == {"from": 3600}
    assert all(low["to"] == high["from"] for low, high in zip(ranges, ranges[1:]))  # no gap, no overlap
    assert _aggs(states["win4658-sessions-by-object-type"]) == [
        ("count", None, None),
        ("max", names["duration_seconds"], None),
        ("sum", names["access_count"], None),
        ("terms", names["object_type"], "1"),
    ]
    processes = states["win4658-sessions-by-process-duration"]
    assert _aggs(processes) == [
        ("count", None, None),
        ("sum", names["duration_seconds"], None),
        ("max", names["duration_seconds"], None),
        ("terms", names["process_executable"], "2"),
    ]
    assert processes["aggs"][1]["params"]["customLabel"] == "total open, s"  # ordered by the total
    longest = BY_ID["win4658-sessions-longest"]["attributes"]
    assert longest["sort"] == [[names["duration_ns"], "desc"]]
    listed = BY_ID["win4658-sessions-latest"]["attributes"]
    assert listed["sort"] == [["@timestamp", "desc"]]
    assert listed["columns"] == [
        names[name]
        for name in (
            "host",
            "user_name",
            "process_executable",
            "process_id",
            "handle_id",
            "object_type",
            "object_name",
            "access_requested",
            "access_used",
            "start",
            "end",
            "duration_ns",
            "ending",
        )
    ]


@pytest.mark.parametrize(
    "item",
    [item for item in OBJECTS if item["type"] == "visualization" and item["references"][0]["id"] == "win4658-sessions"],
    ids=lambda item: item["id"],
)
def test_session_panels_aggregate_fields_of_a_type_that_allows_it(item):
    types = session_field_types(SESSION_SPEC)
    for agg in json.loads(item["attributes"]["visState"])["aggs"]:
        field = agg["params"].get("field")
        if agg["type"] in ("sum", "max", "min", "avg", "range"):
            assert types[field] in NUMBERS, (agg["type"], field)
        elif agg["type"] == "terms":
            assert types[field] == "keyword", field
        elif agg["type"] == "date_histogram":
            assert types[field] == "date", field


def test_session_panels_name_fields_as_session_yml_and_generation_renames_them():
    source = load_source(ROOT, Sources(ROOT).ecs_names)
    (session_view,) = [spec for spec in source["data_views"] if spec.get("fields") == session_spec()["schema"]]
    panels = [
        spec
        for kind in ("searches", "visualizations")
        for spec in source[kind]
        if spec["data_view"] == session_view["id"]
    ]
    assert len(panels) == 2 + 4 and all(column in SESSION_NAMES for column in panels[0]["columns"])
    renamed = with_field_names(source, {"session": dict(SESSION_NAMES, handle_id="win4658.handle.number")})
    (listed,) = [spec for spec in renamed["searches"] if spec["id"] == "win4658-sessions-latest"]
    assert "win4658.handle.number" in listed["columns"] and SESSION_NAMES["handle_id"] not in listed["columns"]
    assert renamed["searches"][0] == source["searches"][0]  # an events search keeps its names
    with pytest.raises(LookupError, match="win4658-sessions-latest: no field 'handle_id'"):
        with_field_names(source, {"session": {name: ecs for name, ecs in SESSION_NAMES.items() if name != "handle_id"}})
