"""Detections as data: a detection of an existing operator is one YAML file, and every backend renders it.

A detection of ObjectName (a field no shipped detection reads) is added to a copy of detections/: Splunk, Kibana,
Sigma and the local engine all follow with no code change, each naming the field the way its platform does (the
resolver reads the ECS and CIM names from the mappings). An unknown operator or kind is refused at load.
"""

import json
import os
import shutil

import pytest
import yaml

from tests.support.paths import ROOT
from win4658.artifacts import KIBANA_RULES, SIGMA_DIR, detection_lists, sigma_rules
from win4658.detections import engine, kibana, sigma, splunk
from win4658.detections.definitions import OPERATORS, DefinitionError, Detection, load_sources
from win4658.event import Event, Origin
from win4658.sources import Sources

NEW_DETECTION = r"""
id: win4658_sam_handle
number: 7
title: A handle to the SAM hive was closed
description: A 4658 of a handle to an object under the SAM hive.
condition: {field: EventData.ObjectName, operator: path_in, reason: "object under {match}"}
event_ids: [4658]
severity: medium
risk_score: 47
rule_id: 3f1c3a52-8f0e-4d3e-9a57-5c1e2b7d9a10
references: ["https://example.org/sam"]
false_positives: [Backups.]
list:
  name: win4658_sam_objects
  description: Objects of the SAM hive.
  columns: [path_pattern]
  rows:
    - ['\REGISTRY\MACHINE\SAM\*']
splunk:
  cron_schedule: "*/30 * * * *"
kibana: true
sigma:
  id: 0b6f2d1e-6c0a-4a9e-8f55-9d2f7c1e4b21
  level: medium
"""


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    root = tmp_path_factory.mktemp("checkout")
    for folder in ("detections", "mappings"):
        shutil.copytree(os.path.join(ROOT, folder), root / folder, ignore=shutil.ignore_patterns("generated"))
    (root / "detections" / "sam_handle.yml").write_text(NEW_DETECTION, encoding="utf-8")
    sources = Sources(str(root))
    return {
        splunk.SAVEDSEARCHES_CONF: splunk.savedsearches_conf(
            sources.detections, sources.cim_names, sources.session_spec
        ),
        KIBANA_RULES: kibana.rules_ndjson(sources.detections, sources.ecs_names),
        **sigma_rules(sources),
        **detection_lists(sources),
    }


def test_the_saved_search_reads_the_cim_name_through_the_lookup(generated):
    stanza = generated[splunk.SAVEDSEARCHES_CONF].split("[win4658_sam_handle]\n")[1].split("\n\n")[0]
    assert Sources(ROOT).cim_names("EventData.ObjectName") == "object_path"
    assert (
        "search = `win4658_events` EventCode=4658 object_path=* | eval win4658_path=replace(replace(object_path, "
        in stanza
    )
    assert (
        "| lookup win4658_sam_objects path_pattern AS win4658_path OUTPUT path_pattern AS win4658_path_pattern "
        "| where isnotnull(win4658_path_pattern) | table _time dest user process_path process_id HandleId "
        "win4658_path_pattern | `win4658_sam_handle_filter`"
    ) in stanza
    assert generated["addon/lookups/win4658_sam_objects.csv"] == "path_pattern\n\\REGISTRY\\MACHINE\\SAM\\*\n"


def test_the_kibana_rule_reads_the_ecs_name(generated):
    rules = [json.loads(line) for line in generated[KIBANA_RULES].splitlines()]
    query = next(rule["query"] for rule in rules if rule["name"].startswith("win4658 7:"))
    assert Sources(ROOT).ecs_names("EventData.ObjectName") == "winlog.event_data.ObjectName"
    assert query.startswith(
        'any where event.code == "4658" and winlog.event_data.ObjectName != null and '
        "winlog.event_data.ObjectName regex~ ("
    )


def test_the_sigma_rule_names_the_windows_field(generated):
    text = generated[f"{SIGMA_DIR}/win4658_sam_handle.yml"]
    assert (
        "  selection:\n    EventID: 4658\n  sam_objects:\n    ObjectName:\n    - \\REGISTRY\\MACHINE\\SAM\\\\*\n"
        "  condition: selection and sam_objects\n" in text
    )


def test_the_local_engine_runs_it():
    detections = engine.EventDetections([Detection(yaml.safe_load(NEW_DETECTION))])
    sam = Event(
        {"EventID": 4658, "Computer": "ws1"}, {"ObjectName": r"\REGISTRY\MACHINE\SAM\SAM\Domains"}, Origin("t", 1)
    )
    other = Event({"EventID": 4658, "Computer": "ws1"}, {"ObjectName": r"C:\Users\a.txt"}, Origin("t", 2))
    reasons = [finding.reason for finding in detections.findings(sam, None)]
    assert reasons == ["object under \\REGISTRY\\MACHINE\\SAM\\*"]
    assert detections.findings(other, None) == []


def test_every_backend_renders_every_operator():
    for backend in (engine, splunk, kibana, sigma):
        assert set(backend.OPERATORS) == set(OPERATORS), backend.__name__


@pytest.mark.parametrize(
    "change, message",
    [
        (("operator: path_in", "operator: path_like"), "unknown operator 'path_like'"),
        (
            (
                'condition: {field: EventData.ObjectName, operator: path_in, reason: "object under {match}"}',
                "kind: sam_handles",
            ),
            "sam_handle.yml",
        ),
    ],
)
def test_an_unknown_operator_or_kind_is_refused_at_load(tmp_path, change, message):
    shutil.copy(os.path.join(ROOT, "detections", "detection.schema.json"), tmp_path)
    (tmp_path / "sam_handle.yml").write_text(NEW_DETECTION.replace(*change), encoding="utf-8")
    with pytest.raises(DefinitionError, match=message):
        load_sources(str(tmp_path))
    with pytest.raises(DefinitionError):
        Detection(yaml.safe_load(NEW_DETECTION.replace(*change)))
