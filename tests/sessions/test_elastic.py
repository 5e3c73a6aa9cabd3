"""Handle sessions in Elasticsearch: the generated template, the Kibana rule over the sessions index, and (with
WIN4658_ES_URL) shipping sessions to a real cluster, running the rule's query there and checking that every field the
sessions dashboard reads is searchable (and aggregatable where a panel aggregates it) in that index."""

import json
import os
import uuid

import jsonschema
import pytest

from tests.support.paths import ROOT, corpus_path, unshipped_reference
from win4658 import reference
from win4658.detections.definitions import load_bundle
from win4658.detections.local_hunt import Hunt
from win4658.kibana.dashboards import DASHBOARDS_FILE, INDEX_REF
from win4658.mapping import flatten
from win4658.sessions.artifacts import KIBANA_SESSION_RULES, SESSIONS_TEMPLATE_FILE
from win4658.sessions.elastic import session_field_types, sessions_template_body
from win4658.sessions.fields import session_spec, to_ecs
from win4658.sessions.stream import handle_sessions, session_hunt

ES_REASON = "WIN4658_ES_URL is not set: no Elasticsearch cluster to ship the sessions to"
LIFETIME = next(detection for detection in load_bundle() if detection.kind == "handle_lifetime")
FILE = ("json", "rdp_interactive_taskmanager_lsass_dump.zip")


def _rules():
    with open(os.path.join(ROOT, KIBANA_SESSION_RULES), encoding="utf-8") as stream:
        return [json.loads(line) for line in stream]


def _session_documents(path):
    return [to_ecs(item) for item in handle_sessions([path], session_hunt(10_000, 50_000)) if isinstance(item, dict)]


def test_the_committed_template_is_the_generated_one_with_ecs_types():
    with open(os.path.join(ROOT, SESSIONS_TEMPLATE_FILE), encoding="utf-8") as stream:
        assert json.load(stream) == sessions_template_body(session_spec())
    ecs = reference.ecs_fields()
    for field, index_type in session_field_types(session_spec()).items():
        if not field.startswith("win4658."):
            assert ecs[field]["type"] == index_type, field


def test_every_corpus_session_document_fits_the_strict_template():
    types = session_field_types(session_spec())
    documents = _session_documents(corpus_path())
    assert len(documents) == 2491 + 2928 + 23
    seen = set()
    for document in documents:
        fields = set(flatten(document))
        assert fields <= set(types), fields - set(types)
        seen |= fields
    assert {"file.path", "registry.path", "event.duration", "win4658.handle.access.used"} <= seen


def test_the_session_rule_validates_and_queries_the_sessions_index():
    schema = unshipped_reference(
        "elastic", "kibana_rule.schema.json", why="derived from Kibana's sources under the Elastic License 2.0"
    )
    with open(schema, encoding="utf-8") as stream:
        validator = jsonschema.Draft202012Validator(json.load(stream))
    (rule,) = _rules()
    errors = sorted(validator.iter_errors(rule), key=lambda error: len(error.path))
    assert not errors, f"{errors[0].message} at {list(errors[0].absolute_path)}"
    assert (rule["type"], rule["language"], rule["index"], rule["enabled"]) == (
        "query",
        "kuery",
        ["win4658-sessions*"],
        False,
    )
    threshold_ns = int(LIFETIME.parameters["long_handle_seconds"] * 1_000_000_000)
    assert rule["query"] == (
        'event.dataset : "win4658.handle_session" and win4658.handle.ending : "closed" '
        f"and event.duration > {threshold_ns}"
    )


def _long_sessions(documents, threshold_ns):
    """The rule's query, term by term, over ECS session documents."""
    return sorted(
        (document["host"]["name"], document["win4658"]["handle"]["id"], document["event"]["end"])
        for document in documents
        if document["event"]["dataset"] == "win4658.handle_session"
        and document["win4658"]["handle"]["ending"] == "closed"
        and document["event"]["duration"] > threshold_ns
    )


def test_the_rules_condition_finds_what_hunts_lifetime_detection_finds():
    corpus = corpus_path()
    for seconds in (LIFETIME.parameters["long_handle_seconds"], 1, 0.1):
        hunt = Hunt(long_handle_seconds=seconds)
        expected = sorted(
            (finding.host, finding.handle_id, finding.details["closed"])
            for finding in hunt.run([corpus])
            if getattr(finding, "number", None) == 6
        )
        assert _long_sessions(_session_documents(corpus), int(seconds * 1_000_000_000)) == expected
        assert seconds > 1 or expected


@pytest.fixture(scope="module")
def sessions_index():
    """A template and an index of their own (any server line: the legacy template before 7.8), deleted after."""
    if not os.environ.get("WIN4658_ES_URL"):
        pytest.skip(ES_REASON)
    from elasticsearch import NotFoundError

    from win4658.elasticsearch.client import connect, request, settings_from
    from win4658.elasticsearch.install import template_path
    from win4658.elasticsearch.ship import ShipSummary
    from win4658.elasticsearch.template import legacy_template_body
    from win4658.sessions.elastic import ship_sessions

    client = connect(settings_from(os.environ))
    name = f"test-win4658-sessions-{uuid.uuid4().hex[:12]}"  # outside the patterns of installed templates
    template = dict(sessions_template_body(session_spec()), index_patterns=[name], priority=500)
    path = template_path(client.server, name)
    request(client, "PUT", path, template if client.server.composable_templates else legacy_template_body(template))
    try:
        summary = ShipSummary()
        results = list(ship_sessions(client, [corpus_path(*FILE)], name, summary))
        assert all(result.ok for result in results) and summary.indexed == len(_session_documents(corpus_path(*FILE)))
        request(client, "POST", f"/{name}/_refresh")
        yield client, name
    finally:
        for leftover in (f"/{name}", path):
            try:
                request(client, "DELETE", leftover)
            except NotFoundError:
                pass


def test_shipped_sessions_are_searchable_with_the_rules_condition(sessions_index):
    from win4658.elasticsearch.client import request

    client, index = sessions_index
    documents = _session_documents(corpus_path(*FILE))
    threshold_ns = 100_000_000
    query = {
        "bool": {
            "filter": [
                {"term": {"event.dataset": "win4658.handle_session"}},
                {"term": {"win4658.handle.ending": "closed"}},
                {"range": {"event.duration": {"gt": threshold_ns}}},
            ]
        }
    }
    hits = request(client, "POST", f"/{index}/_search", {"query": query, "size": 1000})["hits"]["hits"]
    found = sorted(
        (hit["_source"]["host"]["name"], hit["_source"]["win4658"]["handle"]["id"], hit["_source"]["event"]["end"])
        for hit in hits
    )
    assert found == _long_sessions(documents, threshold_ns) and found
    mapping = request(client, "GET", f"/{index}/_mapping")[index]["mappings"]
    assert mapping["properties"]["event"]["properties"]["duration"]["type"] == "long"


def _session_panel_fields():
    """(field, aggregated) of every field the Kibana saved objects over the sessions data view read."""
    with open(os.path.join(ROOT, DASHBOARDS_FILE), encoding="utf-8") as stream:
        items = [
            item
            for item in map(json.loads, stream)
            if item["type"] in ("search", "visualization")
            and item["references"] == [{"name": INDEX_REF, "type": "index-pattern", "id": "win4658-sessions"}]
        ]
    fields = {(field, False) for item in items for field in item["attributes"].get("columns", [])}
    fields |= {(field, True) for item in items for field, _order in item["attributes"].get("sort", [])}
    for item in items:
        if "visState" in item["attributes"]:
            fields |= {
                (agg["params"]["field"], True)
                for agg in json.loads(item["attributes"]["visState"])["aggs"]
                if "field" in agg["params"]
            }
    assert len(items) == 6 and len(fields) > 13
    return fields


def test_the_sessions_dashboard_fields_are_searchable_and_aggregatable_in_the_shipped_index(sessions_index):
    from win4658.elasticsearch.client import request

    client, index = sessions_index
    wanted = _session_panel_fields()
    names = sorted({field for field, _aggregated in wanted})
    capabilities = request(client, "GET", f"/{index}/_field_caps?fields={','.join(names)}")["fields"]
    assert sorted(capabilities) == names
    assert [
        field
        for field, aggregated in sorted(wanted)
        if not all(
            kind["searchable"] and (kind["aggregatable"] or not aggregated) for kind in capabilities[field].values()
        )
    ] == []


def test_ship_sessions_sends_each_session_with_where_its_last_event_was_read():
    from tests.support.es_wire import WireServer
    from win4658.elasticsearch.client import connect, settings_from
    from win4658.elasticsearch.ship import ShipSummary
    from win4658.event import Origin
    from win4658.sessions.elastic import session_documents, ship_sessions

    path = corpus_path(*FILE)
    documents = list(session_documents([path], 10_000, 50_000, ShipSummary().stats))
    assert [document for _origin, document in documents] == _session_documents(path)
    assert all(isinstance(origin, Origin) and origin.path.startswith(path) for origin, _document in documents)
    summary = ShipSummary()
    with WireServer("elasticsearch-8.15.3") as wire:
        cluster = connect(settings_from({}, url=wire.url))
        outcomes = list(ship_sessions(cluster, [path], "win4658-sessions", summary))
        bulk_paths = [request_path for method, request_path, _body in wire.requests if method == "POST"]
        stored = wire.documents
    assert all(outcome.ok for outcome in outcomes) and len(outcomes) == len(documents) == summary.indexed
    assert [outcome.origin for outcome in outcomes] == [origin for origin, _document in documents]
    assert bulk_paths and all(request_path == "/_bulk" for request_path in bulk_paths)  # no pipeline: ECS already
    assert sorted(map(_key, stored.values())) == sorted(map(_key, _session_documents(path)))
    assert {index for index, _id in stored} == {"win4658-sessions"} and summary.stats.records == 5489


def _key(document):
    return json.dumps(document, sort_keys=True)
