"""Kibana rules: importable shape, EQL that parses, and the same hits as the local engine on the corpus's ECS."""

import json
import os
import re

import eql
import jsonschema
import pytest
from eql.parser import elasticsearch_syntax

from tests.support.paths import CORPUS_FILES, ROOT, corpus_path, unshipped_reference
from win4658.detections import kibana
from win4658.detections.definitions import load_bundle
from win4658.detections.engine import EventDetections
from win4658.detections.fields import installed
from win4658.detections.lifetime import HandleTracker
from win4658.event import Event
from win4658.normalize import to_ecs
from win4658.readers import read_paths
from win4658.times import time_ns

DETECTIONS = load_bundle()
RULES_FILE = os.path.join(ROOT, "detections", "generated", "kibana_rules.ndjson")


def _rules():
    with open(RULES_FILE, encoding="utf-8") as stream:
        return [json.loads(line) for line in stream]


def test_one_rule_per_detection_with_a_kibana_version():
    rules = _rules()
    assert [rule["rule_id"] for rule in rules] == [d.spec["rule_id"] for d in DETECTIONS if d.spec["kibana"]]
    assert [rule["name"].split(":")[0] for rule in rules] == [
        "win4658 1",
        "win4658 2",
        "win4658 3",
        "win4658 4",
        "win4658 6",
    ]
    for rule in rules:
        assert (rule["type"], rule["language"], rule["enabled"]) == ("eql", "eql", False)
        assert rule["index"] == ["winlogbeat-*", "logs-system.security-*", "logs-windows.*", "win4658-*"]


def test_rules_validate_against_kibanas_import_schema():
    schema = unshipped_reference(
        "elastic", "kibana_rule.schema.json", why="derived from Kibana's sources under the Elastic License 2.0"
    )
    with open(schema, encoding="utf-8") as stream:
        validator = jsonschema.Draft202012Validator(json.load(stream))
    for rule in _rules():
        errors = sorted(validator.iter_errors(rule), key=lambda error: len(error.path))
        assert not errors, f"{rule['name']}: {errors[0].message} at {list(errors[0].absolute_path)}"


def test_mitre_mapping_of_every_rule():
    threats = {rule["name"].split(":")[0]: rule["threat"] for rule in _rules()}
    assert threats["win4658 4"][0]["technique"][0]["id"] == "T1003"
    assert (
        threats["win4658 3"][0]["technique"][0]["subtechnique"][0]["reference"]
        == "https://attack.mitre.org/techniques/T1204/002/"
    )
    assert (
        threats["win4658 1"][0]["technique"][0]["id"] == "T1204"
        and "subtechnique" not in threats["win4658 1"][0]["technique"][0]
    )
    assert (
        threats["win4658 6"][0]["tactic"]["id"] == "TA0009" and threats["win4658 6"][0]["technique"][0]["id"] == "T1005"
    )


def _parse(query):
    with elasticsearch_syntax:
        return eql.parse_query(query)


def test_every_query_parses_as_elasticsearch_eql():
    for rule in _rules():
        _parse(rule["query"])


def _run_eql(query, documents):
    """Positions of the events each hit is made of, running the Python EQL engine over the documents in order."""
    hits = []
    engine = eql.PythonEngine({"print": False})
    engine.add_query(_parse(query))
    engine.add_output_hook(lambda result: hits.append(tuple(event.data["_position"] for event in result.events)))
    engine.stream_events(eql.Event("any", position, document) for position, document in enumerate(documents))
    engine.finalize()
    return sorted(hits)


def _ordered_events(relative):
    events = [
        result
        for result in read_paths([corpus_path(*relative.split("/"))], frozenset({4656, 4658, 4663}))
        if isinstance(result, Event)
    ]
    times = [time_ns(event.system.get("TimeCreated")) for event in events]
    return [event for _time, _position, event in sorted(zip(times, range(len(events)), events))]


def _local_hits(detection, events):
    if detection.kind == "handle_lifetime":
        tracker = HandleTracker()
        positions = {event.origin: position for position, event in enumerate(events)}
        hits = []
        for event in events:
            lifetime = tracker.observe(event, time_ns(event.system.get("TimeCreated")))
            if lifetime is not None:
                hits.append((positions[lifetime.opened.origin], positions[lifetime.closed.origin]))
        return sorted(hits)
    detections = EventDetections([detection])
    return [(position,) for position, event in enumerate(events) if detections.findings(event, None)]


@pytest.mark.parametrize("relative", [entry["file"] for entry in CORPUS_FILES])
def test_eql_rules_hit_exactly_what_the_local_engine_hits(relative):
    events = _ordered_events(relative)
    documents = [dict(to_ecs(event), _position=position) for position, event in enumerate(events)]
    detections = {detection.spec["rule_id"]: detection for detection in DETECTIONS}
    for rule in _rules():
        detection = detections[rule["rule_id"]]
        assert _run_eql(rule["query"], documents) == _local_hits(detection, events), rule["name"]


def test_the_agreement_covers_hits_of_every_rule():
    documents_hits = {}
    for relative in (
        "json/metasploit_procdump_lsass_memory_dump.zip",
        "json/mimikatz_CVE-2020-1472_Unauthenticated_NetrServerAuthenticate2.zip",
    ):
        events = _ordered_events(relative)
        documents = [dict(to_ecs(event), _position=position) for position, event in enumerate(events)]
        for rule in _rules():
            documents_hits[rule["name"]] = documents_hits.get(rule["name"], 0) + len(_run_eql(rule["query"], documents))
    assert list(documents_hits.values()) == [28, 8, 8, 2, 42]


def test_a_per_host_allowlist_row_becomes_a_host_condition():
    detection = next(d for d in DETECTIONS if d.id == "win4658_unexpected_process")
    edited = detection.list._replace(rows=detection.list.rows + [["DC*", r"C:\Tools\agent.exe"]])
    detection.list, original = edited, detection.list
    try:
        query = kibana.query(detection, installed("ecs"))
    finally:
        detection.list = original
    assert 'host.name regex~ "DC.*"' in query
    _parse(query)


def test_every_regex_fits_elasticsearchs_default_regex_length_limit():
    for rule in _rules():
        for literal in re.findall(r"regex~ \(([^)]*)\)", rule["query"]):
            for regex in re.findall(r'"((?:[^"\\]|\\.)*)"', literal):
                assert len(regex.replace("\\\\", "\\")) < 1000, rule["name"]
    assert "regex~ (" in _rules()[1]["query"]
