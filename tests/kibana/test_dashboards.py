"""The generated Kibana saved objects: unique ids, every reference resolves inside the file, every panel's fields
exist in the generated index template (or are Security alert fields), and the dashboards hold what they promise."""
import json
import os
import re

import pytest

from tests.support.paths import ROOT
from win4658.elasticsearch.template import template_body
from win4658.kibana.dashboards import DASHBOARDS_FILE, INDEX_REF, saved_objects
from win4658.sources import Sources

# Fields of the Security app's alert documents (Kibana 8.0+) the alert panels read.
ALERT_FIELDS = {"kibana.alert.rule.name", "kibana.alert.rule.tags", "host.name", "user.name", "process.executable",
                "winlog.event_data.HandleId", "@timestamp"}
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
    return field in fields or any(re.fullmatch(pattern.replace(".", r"\.").replace("*", r"[^.]+"), field)
                                  for pattern in dynamic)


def _search_source(item):
    return json.loads(item["attributes"]["kibanaSavedObjectMeta"]["searchSourceJSON"])


def _fields_used(item):
    fields = set(KQL_FIELD.findall(_search_source(item)["query"]["query"]))
    if item["type"] == "search":
        fields.update(item["attributes"]["columns"])
    if item["type"] == "visualization":
        state = json.loads(item["attributes"]["visState"])
        fields.update(agg["params"]["field"] for agg in state["aggs"] if "field" in agg["params"])
        fields.update(agg["params"]["sortField"] for agg in state["aggs"] if "sortField" in agg["params"])
    return fields


def test_the_committed_file_is_the_source_generated():
    assert OBJECTS == list(saved_objects(Sources(ROOT).dashboards))


def test_ids_are_unique_and_every_reference_resolves_to_an_earlier_object():
    assert len(BY_ID) == len(OBJECTS) == 2 + 2 + 7 + 2
    seen = set()
    for item in OBJECTS:
        for reference in item["references"]:
            assert reference["id"] in seen, f"{item['id']} references {reference['id']} before it is defined"
            assert BY_ID[reference["id"]]["type"] == reference["type"]
        seen.add(item["id"])


@pytest.mark.parametrize("item", [item for item in OBJECTS if item["type"] in ("search", "visualization")],
                         ids=lambda item: item["id"])
def test_every_field_a_panel_uses_exists_where_it_reads(item):
    (reference,) = item["references"]
    assert reference["name"] == INDEX_REF == _search_source(item)["indexRefName"]
    fields = _fields_used(item)
    assert fields
    if reference["id"] == "win4658-events":
        assert [field for field in sorted(fields) if not _event_field_exists(field)] == []
    else:
        assert reference["id"] == "win4658-alerts" and fields <= ALERT_FIELDS


def test_field_check_can_fail():
    assert _event_field_exists("winlog.event_data.ObjectName") and _event_field_exists("process.pid")
    assert not _event_field_exists("process.parent.name") and not _event_field_exists("winlog.event_data.a.b")


@pytest.mark.parametrize("dashboard_id", ["win4658-handle-activity", "win4658-audit-volume"])
def test_dashboard_panels_match_their_references(dashboard_id):
    dashboard = BY_ID[dashboard_id]
    panels = json.loads(dashboard["attributes"]["panelsJSON"])
    references = {reference["name"]: reference for reference in dashboard["references"]}
    assert [panel["panelRefName"] for panel in panels] == list(references)
    assert len({(panel["gridData"]["x"], panel["gridData"]["y"]) for panel in panels}) == len(panels)
    assert all(panel["gridData"]["x"] + panel["gridData"]["w"] <= 48 for panel in panels)


def test_handle_activity_shows_closes_by_host_and_process_alerts_and_lifetimes():
    panels = [BY_ID[reference["id"]] for reference in BY_ID["win4658-handle-activity"]["references"]]
    states = {item["id"]: json.loads(item["attributes"]["visState"])
              for item in panels if item["type"] == "visualization"}
    closed = states["win4658-closed-over-time-by-host"]
    assert [(agg["type"], agg["params"].get("field")) for agg in closed["aggs"]] == \
           [("count", None), ("date_histogram", "@timestamp"), ("terms", "host.name")]
    assert [agg["params"].get("field") for agg in states["win4658-closed-by-process"]["aggs"]] == \
           [None, "host.name", "process.executable"]
    lifetimes = states["win4658-handle-lifetimes"]["aggs"]
    assert [(agg["type"], agg["params"].get("field")) for agg in lifetimes] == [
        ("count", None), ("min", "@timestamp"), ("max", "@timestamp"), ("top_hits", "winlog.event_data.ObjectName"),
        ("terms", "host.name"), ("terms", "process.name"), ("terms", "winlog.event_data.HandleId")]
    assert _search_source(BY_ID["win4658-detection-alerts"])["query"]["query"] == 'kibana.alert.rule.tags : "win4658"'


def test_the_alert_panels_find_the_generated_rules_by_their_tag():
    with open(os.path.join(ROOT, "detections", "generated", "kibana_rules.ndjson"), encoding="utf-8") as stream:
        rules = [json.loads(line) for line in stream]
    assert rules and all("win4658" in rule["tags"] for rule in rules)
