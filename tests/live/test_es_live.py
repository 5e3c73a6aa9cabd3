"""Against a real cluster: the pipeline's `_simulate` output equals every golden expected document, the template
installs idempotently, shipped events come back through the pipeline, and the rules hunt them.

Runs when WIN4658_ES_URL is set (with WIN4658_ES_API_KEY or WIN4658_ES_USER/WIN4658_ES_PASSWORD, optional
WIN4658_ES_CA_CERTS); everything is created under a unique test name and deleted afterwards, also when a test fails
(docs/live-tests.md: versions and privileges).
"""

import json
import os
import uuid

import pytest

if not os.environ.get("WIN4658_ES_URL"):
    pytest.skip(
        "WIN4658_ES_URL is not set: no Elasticsearch cluster to run the live tests against", allow_module_level=True
    )

from elasticsearch import NotFoundError  # noqa: E402

from tests.support.paths import ROOT  # noqa: E402
from win4658.elasticsearch.client import connect, request, settings_from  # noqa: E402
from win4658.elasticsearch.install import install, uninstall  # noqa: E402
from win4658.elasticsearch.pipeline import pipeline_body  # noqa: E402
from win4658.elasticsearch.rule_search import hunt, load_rules  # noqa: E402
from win4658.elasticsearch.ship import ShipError, ShipSummary, ship  # noqa: E402
from win4658.elasticsearch.simulate import check_golden, golden_cases, simulate_documents, simulate_events  # noqa: E402,E501
from win4658.examples import EXAMPLES_DIR  # noqa: E402
from win4658.readers import read_paths  # noqa: E402

GOLDEN_DIR = os.path.join(ROOT, "ingest_pipelines", "tests")
SAMPLE = os.path.join(EXAMPLES_DIR, "4658_sample_documentation.xml")
NAME = f"test-win4658-{uuid.uuid4().hex[:12]}"  # outside win4658-*: a production template may be installed
INDEX = f"{NAME}-events"


def _load(path):
    with open(path, encoding="utf-8") as stream:
        return json.load(stream)


def _delete(client, *paths):
    """DELETE each path that exists, every one tried even when an earlier one fails."""
    failures = []
    for path in paths:
        try:
            request(client, "DELETE", path)
        except NotFoundError:
            pass
        except Exception as error:  # noqa: BLE001 - reported after the other deletions were tried
            failures.append(f"{path}: {error}")
    assert not failures, f"could not clean up: {failures}"


@pytest.fixture(scope="module")
def client():
    es = connect(settings_from(os.environ))
    yield es
    try:
        _delete(es, f"/{INDEX}", f"/{NAME}-never")
    finally:
        uninstall(es, NAME, NAME)  # the legacy _template before Elasticsearch 7.8


@pytest.fixture(scope="module")
def installed(client):
    first = install(client, NAME, NAME, [f"{NAME}-*"])
    second = install(client, NAME, NAME, [f"{NAME}-*"])
    return first, second


def test_install_creates_then_leaves_unchanged(installed):
    first, second = installed
    assert [(item.kind, item.status) for item in first] == [("pipeline", "created"), ("index template", "created")]
    assert [(item.kind, item.status) for item in second] == [("pipeline", "unchanged"), ("index template", "unchanged")]


@pytest.mark.parametrize("case", golden_cases(GOLDEN_DIR), ids=lambda case: os.path.basename(case.path))
def test_simulate_outputs_exactly_the_expected_documents(client, installed, case):
    outputs = simulate_documents(client, case.events, pipeline_id=NAME)
    assert [output.get("error") for output in outputs] == [None] * len(case.events)
    assert [output["doc"]["_source"] for output in outputs] == case.expected
    assert check_golden(client, case, pipeline_id=NAME) == []


def test_generated_pipeline_simulates_the_sample_without_difference_from_to_ecs(client):
    results = list(simulate_events(client, read_paths([SAMPLE]), pipeline=pipeline_body()))
    assert len(results) == 1
    assert (results[0].error, results[0].differences) == (None, [])
    assert results[0].document["process"] == {
        "pid": 3824,
        "executable": "C:\\Windows\\explorer.exe",
        "name": "explorer.exe",
    }


@pytest.fixture(scope="module")
def shipped(client, installed):
    outcomes = []
    for _ in range(2):  # the second run overwrites the same document: content ids
        summary = ShipSummary()
        outcomes.append((list(ship(client, [SAMPLE], INDEX, frozenset({4658}), summary, NAME)), summary))
    request(client, "POST", f"/{INDEX}/_refresh")
    return outcomes


def test_ship_indexes_the_sample_through_the_pipeline(client, shipped):
    for results, summary in shipped:
        assert [result.ok for result in results] == [True]
        assert (summary.stats.records, summary.indexed, summary.index_failed, summary.failed) == (1, 1, 0, False)
    hits = request(client, "POST", f"/{INDEX}/_search", {"query": {"match_all": {}}})["hits"]
    assert hits["total"]["value"] == 1
    expected = _load(os.path.join(GOLDEN_DIR, "test-seed-sample.json-expected.json"))["expected"]
    assert hits["hits"][0]["_source"] == expected[0]


def test_shipped_index_has_the_template_mapping(client, shipped):
    mapping = request(client, "GET", f"/{INDEX}/_mapping")[INDEX]["mappings"]["properties"]
    assert mapping["process"]["properties"]["pid"] == {"type": "long"}
    assert mapping["winlog"]["properties"]["event_id"] == {"type": "keyword"}
    assert mapping["winlog"]["properties"]["event_data"]["properties"]["HandleId"] == {"type": "keyword"}
    settings = request(client, "GET", f"/{INDEX}/_settings")[INDEX]["settings"]["index"]
    assert settings["default_pipeline"] == NAME


def test_search_finds_the_shipped_event_by_its_ecs_fields(client, shipped):
    query = {
        "bool": {
            "filter": [
                {"term": {"process.name": "explorer.exe"}},
                {"term": {"event.code": "4658"}},
                {"term": {"winlog.event_data.HandleId": "0x18a8"}},
                {"term": {"process.pid": 3824}},
            ]
        }
    }
    assert request(client, "POST", f"/{INDEX}/_search", {"query": query})["hits"]["total"]["value"] == 1


def test_hunt_runs_each_rule_type_against_the_shipped_event(client, shipped, tmp_path):
    rules = [
        {
            "rule_id": "live-kql",
            "name": "kql",
            "type": "query",
            "language": "kuery",
            "index": [INDEX],
            "query": 'process.name : "explorer.exe" and event.code : 4658 and not user.name : SYSTEM',
        },
        {
            "rule_id": "live-lucene",
            "name": "lucene",
            "type": "query",
            "language": "lucene",
            "index": [INDEX],
            "query": "process.executable:C\\:\\\\Windows\\\\* AND winlog.event_data.ObjectServer:Security",
        },
        {
            "rule_id": "live-eql",
            "name": "eql",
            "type": "eql",
            "language": "eql",
            "index": [INDEX],
            "query": 'any where event.code == "4658" and process.name == "explorer.exe"',
        },
        {
            "rule_id": "live-threshold",
            "name": "threshold",
            "type": "threshold",
            "language": "kuery",
            "index": [INDEX],
            "query": "event.code : 4658",
            "threshold": {"field": ["host.name"], "value": 1},
        },
        {
            "rule_id": "live-none",
            "name": "no match",
            "type": "query",
            "language": "kuery",
            "index": [INDEX],
            "query": "process.name : notepad.exe",
        },
    ]
    if client.server.esql:
        rules.append(
            {
                "rule_id": "live-esql",
                "name": "esql",
                "type": "esql",
                "language": "esql",
                "query": f'FROM {INDEX} | WHERE event.code == "4658" | KEEP process.name',
                "index": [INDEX],
            }
        )
    path = tmp_path / "rules.ndjson"
    path.write_text("".join(json.dumps(rule) + "\n" for rule in rules))
    results = {result.rule["rule_id"]: result for result in hunt(client, load_rules(str(path)))}
    expected = {rule["rule_id"]: (None, 0 if rule["rule_id"] == "live-none" else 1) for rule in rules}
    if not client.server.eql:  # Elasticsearch before 7.12, OSS builds, OpenSearch
        expected["live-eql"] = (
            f"this rule cannot run on {client.server}: EQL needs Elasticsearch 7.12 or later (default distribution)",
            0,
        )
    assert {rule_id: (result.error, result.hits) for rule_id, result in results.items()} == expected
    assert results["live-threshold"].samples == [{"key": {"host.name": "DC01.contoso.local"}, "count": 1}]
    if "live-esql" in results:
        assert results["live-esql"].samples == [{"process.name": "explorer.exe"}]


def test_generated_kibana_rules_run_without_error(client, shipped):
    rules_path = os.path.join(ROOT, "detections", "generated", "kibana_rules.ndjson")
    if not os.path.exists(rules_path):
        pytest.skip("detections/generated/kibana_rules.ndjson is not generated yet")
    rules = load_rules(rules_path)
    runnable = {"eql": client.server.eql, "esql": client.server.esql}
    errors = {result.rule["rule_id"]: result.error for result in hunt(client, rules, [INDEX]) if result.error}
    assert set(errors) == {rule["rule_id"] for rule in rules if not runnable.get(rule["type"], True)}
    assert all(f"cannot run on {client.server}" in error for error in errors.values())


def test_ship_refuses_a_missing_pipeline_before_sending_anything(client):
    with pytest.raises(ShipError, match="not installed"):
        list(ship(client, [SAMPLE], f"{NAME}-never", frozenset({4658}), ShipSummary(), f"{NAME}-absent"))
    assert request(client, "GET", f"/_cat/indices/{NAME}-never*?format=json") == []


def test_data_stream_install_and_ship(client):
    """Elasticsearch 8.0+: the template makes data streams; shipping twice leaves one document (409 on the second
    `create`); the policy and the @custom template are created once and kept."""
    if not client.server.data_streams:
        pytest.skip(f"{client.server} has no data streams with ILM: --data-stream needs Elasticsearch 8.0+")
    name = f"{NAME}-ds"
    stream = f"{name}-events"
    try:
        first = install(client, name, name, [f"{name}-*"], data_stream=True)
        second = install(client, name, name, [f"{name}-*"], data_stream=True)
        assert [item.status for item in first] == ["created"] * len(first)
        assert [item.status for item in second] == ["unchanged"] + ["kept"] * (len(first) - 2) + ["unchanged"]
        for _ in range(2):
            summary = ShipSummary()
            assert [result.ok for result in ship(client, [SAMPLE], stream, frozenset({4658}), summary, name)] == [True]
            assert (summary.indexed, summary.index_failed) == (1, 0)
        request(client, "POST", f"/{stream}/_refresh")
        streams = request(client, "GET", f"/_data_stream/{stream}")["data_streams"]
        assert [(item["name"], item["template"], item.get("ilm_policy")) for item in streams] == [(stream, name, name)]
        assert request(client, "POST", f"/{stream}/_count")["count"] == 1
    finally:
        _delete(
            client,
            f"/_data_stream/{stream}",
            f"/_index_template/{name}",
            f"/_component_template/{name}@custom",
            f"/_ilm/policy/{name}",
            f"/_ingest/pipeline/{name}",
        )
