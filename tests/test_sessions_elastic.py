"""Handle sessions in Elasticsearch: the generated template, the Kibana rule over the sessions index, and (with
WIN4658_ES_URL) shipping sessions to a real cluster and running the rule's query there."""
import json
import os
import uuid

import jsonschema
import pytest

from conftest import ROOT, shared_path
from win4658.detections.definitions import load_bundle
from win4658.detections.hunt import Hunt
from win4658.mapping import flatten
from win4658.sessions.artifacts import KIBANA_SESSION_RULES, SESSIONS_TEMPLATE_FILE
from win4658.sessions.elastic import session_field_types, sessions_template_body
from win4658.sessions.fields import to_ecs
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
        assert json.load(stream) == sessions_template_body()
    with open(shared_path("reference", "ecs", "ecs_flat.json"), encoding="utf-8") as stream:
        ecs = json.load(stream)
    for field, index_type in session_field_types().items():
        if not field.startswith("win4658."):
            assert ecs[field]["type"] == index_type, field


def test_every_corpus_session_document_fits_the_strict_template():
    types = session_field_types()
    documents = _session_documents(shared_path("corpus"))
    assert len(documents) == 2491 + 2928 + 23
    seen = set()
    for document in documents:
        fields = set(flatten(document))
        assert fields <= set(types), fields - set(types)
        seen |= fields
    assert {"file.path", "registry.path", "event.duration", "win4658.handle.access.used"} <= seen


def test_the_session_rule_validates_and_queries_the_sessions_index():
    with open(shared_path("reference", "elastic", "kibana_rule.schema.json"), encoding="utf-8") as stream:
        validator = jsonschema.Draft202012Validator(json.load(stream))
    (rule,) = _rules()
    errors = sorted(validator.iter_errors(rule), key=lambda error: len(error.path))
    assert not errors, f"{errors[0].message} at {list(errors[0].absolute_path)}"
    assert (rule["type"], rule["language"], rule["index"], rule["enabled"]) == ("query", "kuery", ["win4658-sessions*"], False)
    threshold_ns = int(LIFETIME.parameters["long_handle_seconds"] * 1_000_000_000)
    assert rule["query"] == ('event.dataset : "win4658.handle_session" and win4658.handle.ending : "closed" '
                             f"and event.duration > {threshold_ns}")


def _long_sessions(documents, threshold_ns):
    """The rule's query, term by term, over ECS session documents."""
    return sorted((document["host"]["name"], document["win4658"]["handle"]["id"], document["event"]["end"])
                  for document in documents if document["event"]["dataset"] == "win4658.handle_session"
                  and document["win4658"]["handle"]["ending"] == "closed"
                  and document["event"]["duration"] > threshold_ns)


def test_the_rules_condition_finds_what_hunts_lifetime_detection_finds():
    corpus = shared_path("corpus")
    for seconds in (LIFETIME.parameters["long_handle_seconds"], 1, 0.1):
        hunt = Hunt(long_handle_seconds=seconds)
        expected = sorted((finding.host, finding.handle_id, finding.details["closed"]) for finding in hunt.run([corpus])
                          if getattr(finding, "number", None) == 6)
        assert _long_sessions(_session_documents(corpus), int(seconds * 1_000_000_000)) == expected
        assert seconds > 1 or expected


@pytest.fixture(scope="module")
def sessions_index():
    if not os.environ.get("WIN4658_ES_URL"):
        pytest.skip(ES_REASON)
    from elasticsearch import NotFoundError

    from win4658.elasticsearch.client import connect, request, settings_from
    from win4658.elasticsearch.ship import ShipSummary
    from win4658.sessions.elastic import SESSIONS_TEMPLATE_NAME, ship_sessions

    client = connect(settings_from(os.environ))
    request(client, "PUT", f"/_index_template/{SESSIONS_TEMPLATE_NAME}", sessions_template_body())
    index = f"win4658-sessions-test-{uuid.uuid4().hex[:12]}"
    summary = ShipSummary()
    results = list(ship_sessions(client, [shared_path("corpus", *FILE)], index, summary))
    assert all(result.ok for result in results) and summary.indexed == len(_session_documents(shared_path("corpus", *FILE)))
    request(client, "POST", f"/{index}/_refresh")
    yield client, index
    try:
        request(client, "DELETE", f"/{index}")
    except NotFoundError:
        pass


def test_shipped_sessions_are_searchable_with_the_rules_condition(sessions_index):
    from win4658.elasticsearch.client import request

    client, index = sessions_index
    documents = _session_documents(shared_path("corpus", *FILE))
    threshold_ns = 100_000_000
    query = {"bool": {"filter": [{"term": {"event.dataset": "win4658.handle_session"}},
                                 {"term": {"win4658.handle.ending": "closed"}},
                                 {"range": {"event.duration": {"gt": threshold_ns}}}]}}
    hits = request(client, "POST", f"/{index}/_search", {"query": query, "size": 1000})["hits"]["hits"]
    found = sorted((hit["_source"]["host"]["name"], hit["_source"]["win4658"]["handle"]["id"], hit["_source"]["event"]["end"])
                   for hit in hits)
    assert found == _long_sessions(documents, threshold_ns) and found
    mapping = request(client, "GET", f"/{index}/_mapping")[index]["mappings"]
    assert mapping["properties"]["event"]["properties"]["duration"]["type"] == "long"


def test_ship_sessions_sends_each_session_with_where_its_last_event_was_read():
    from collections import defaultdict, deque

    from win4658.elasticsearch.ship import ShipSummary, _document_actions
    from win4658.event import Origin
    from win4658.sessions.elastic import session_documents

    path = shared_path("corpus", *FILE)
    summary = ShipSummary()
    documents = list(session_documents([path], 10_000, 50_000, summary.stats))
    assert [document for _origin, document in documents] == _session_documents(path)
    assert all(isinstance(origin, Origin) and origin.path.startswith(path) for origin, _document in documents)
    in_flight, errors = defaultdict(deque), deque()
    actions = list(_document_actions(iter(documents), "win4658-sessions", summary, in_flight, errors))
    assert [action["_source"] for action in actions] == _session_documents(path)
    assert {action["_index"] for action in actions} == {"win4658-sessions"} and "pipeline" not in actions[0]
    assert len({action["_id"] for action in actions}) == len(actions) and summary.stats.records == 5489
