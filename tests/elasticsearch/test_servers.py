"""`win4658 es` against each server line, over real HTTP to tests/support/es_wire.py (a server on 127.0.0.1 that answers
with the recorded GET / of Elasticsearch 7.2, 7.10 OSS, 7.17, 8.5, 8.15, 9.1 and OpenSearch 1.3, 2.11 and the REST
API's shapes): version adaptation, data streams, and every server fault `es ship` and `es simulate` must survive."""

import json
import os
import subprocess
import sys

import pytest
from elastic_transport import TlsError

from tests.support.es_wire import SERVER_NAMES, WireServer, recorded_info
from tests.support.paths import ROOT
from win4658.elasticsearch.client import Server, ServerAnswerError, SettingsError, connect, server_from, settings_from
from win4658.elasticsearch.install import InstallError, install, uninstall
from win4658.elasticsearch.rule_search import hunt
from win4658.elasticsearch.ship import DUPLICATE_WINDOW, ShipAborted, ShipSummary, content_id, ship
from win4658.elasticsearch.simulate import simulate_documents
from win4658.elasticsearch.template import legacy_template_body, template_body
from win4658.mapping import Mapping, bundled
from win4658.readers import read_paths
from win4658.winlogbeat import to_winlogbeat

SAMPLE = os.path.join(ROOT, "tests", "fixtures", "seed_sample.xml")
SECRET = "c2VjcmV0LWFwaS1rZXktZG8tbm90LWxvZw=="

# server: (composable templates, match_only_text, EQL, ES|QL, data streams, ignore_missing_component_templates)
FEATURES = {
    "elasticsearch-7.2.0": (False, False, False, False, False, False),
    "elasticsearch-7.10.2-oss": (True, False, False, False, False, False),
    "elasticsearch-7.17.25": (True, True, True, False, False, False),
    "elasticsearch-8.5.3": (True, True, True, False, True, False),
    "elasticsearch-8.15.3": (True, True, True, True, True, True),
    "elasticsearch-9.1.5": (True, True, True, True, True, True),
    "opensearch-1.3.19": (True, False, False, False, False, False),
    "opensearch-2.11.0": (True, False, False, False, False, False),
}


def _cluster(wire, **options):
    return connect(
        settings_from({"WIN4658_ES_API_KEY": SECRET}, url=wire.url), **dict({"first_backoff": 0.001}, **options)
    )


def run_cli(*args):
    environment = {key: value for key, value in os.environ.items() if not key.startswith("WIN4658_ES_")}
    environment["WIN4658_ES_API_KEY"] = SECRET
    return subprocess.run(
        [sys.executable, "-m", "win4658", *args], capture_output=True, text=True, env=environment, cwd=ROOT, timeout=120
    )


def test_the_recorded_servers_cover_every_line():
    assert SERVER_NAMES == sorted(FEATURES)


@pytest.mark.parametrize("name", SERVER_NAMES)
def test_server_features_follow_the_version(name):
    server = server_from(recorded_info(name))
    assert (
        server.composable_templates,
        "match_only_text" not in server.type_substitutes,
        server.eql,
        server.esql,
        server.data_streams,
        server.ignore_missing_component_templates,
    ) == FEATURES[name]


def test_server_names_and_versions():
    assert str(server_from(recorded_info("opensearch-2.11.0"))) == "OpenSearch 2.11.0"
    assert str(server_from(recorded_info("elasticsearch-7.10.2-oss"))) == "Elasticsearch 7.10.2 (OSS build)"
    assert server_from({"version": {"number": "8.16.0-SNAPSHOT"}}) == Server("elasticsearch", (8, 16, 0))
    with pytest.raises(ServerAnswerError, match="GET / has no version.number"):
        server_from({})


@pytest.mark.parametrize("name", SERVER_NAMES)
def test_install_puts_the_template_the_server_has_then_leaves_it_unchanged(name):
    composable, match_only_text = FEATURES[name][:2]
    with WireServer(name) as wire:
        cluster = _cluster(wire)
        first = install(cluster, "p1", "t1", ["t1-*"])
        second = install(cluster, "p1", "t1", ["t1-*"])
        assert [(item.kind, item.status) for item in first] == [("pipeline", "created"), ("index template", "created")]
        assert [item.status for item in second] == ["unchanged", "unchanged"]
        substitutes = {} if match_only_text else {"match_only_text": "text"}
        expected = template_body(pipeline_id="p1", index_patterns=["t1-*"], substitutes=substitutes)
        if composable:
            assert wire.store["index_template"] == {"t1": expected} and wire.store["template"] == {}
        else:
            assert wire.store["template"] == {"t1": legacy_template_body(expected)}
        error_type = expected["template"]["mappings"]["properties"]["error"]["properties"]["message"]["type"]
        assert error_type == ("match_only_text" if match_only_text else "text")
        assert uninstall(cluster, "p1", "t1") == [
            f"/{'_index_template' if composable else '_template'}/t1",
            "/_ingest/pipeline/p1",
        ]
        assert wire.store["pipeline"] == wire.store["template"] == wire.store["index_template"] == {}
        assert {headers.get("authorization") for headers in wire.headers} == {f"ApiKey {SECRET}"}


@pytest.mark.parametrize("number, eql", [("7.10.2", False), ("7.11.2", False), ("7.12.0", True)])
def test_eql_rules_need_the_syntax_of_7_12(number, eql):
    """7.10 and 7.11 have `_eql/search` but not `regex~` nor `:` with a list, which the generated rules use."""
    assert server_from({"version": {"number": number, "build_flavor": "default"}}).eql is eql


def test_sessions_template_installs_as_a_legacy_template_before_7_8():
    with WireServer("elasticsearch-7.2.0") as wire:
        installed = install(_cluster(wire), "p1", "t1", ["t1-*"], sessions=True)
        stored = wire.store["template"]["win4658-sessions"]
    assert [(item.kind, item.name, item.status) for item in installed][-1] == (
        "index template",
        "win4658-sessions",
        "created",
    )
    assert wire.store["index_template"] == {}
    assert (stored["order"], stored["settings"], stored["mappings"]["dynamic"]) == (210, {}, "strict")


@pytest.mark.parametrize("name", SERVER_NAMES)
def test_requests_are_plain_json_which_every_server_line_serves(name):
    """No `compatible-with` media type (7.x and OpenSearch refuse those of elasticsearch-py 8 and 9)."""
    rule = {"rule_id": "q", "type": "query", "language": "kuery", "query": "event.code : 4658"}
    with WireServer(name) as wire:
        cluster = _cluster(wire)
        install(cluster, "p1", "t1", ["t1-*"])
        results = list(hunt(cluster, [rule], ["x"]))
        media = {(headers.get("accept"), headers.get("content-type")) for headers in wire.headers}
        versioned = "application/vnd.elasticsearch+json; compatible-with=8"
        refused = wire.refused_media_type({"accept": versioned, "content-type": versioned})
    assert media == {("application/json", "application/json")} and results[0].error is None
    assert (refused is None) == (name.startswith(("elasticsearch-8", "elasticsearch-9")))


@pytest.mark.parametrize(
    "name, lacking",
    [
        ("elasticsearch-7.2.0", {"match_only_text", "wildcard", "constant_keyword", "flattened", "version"}),
        ("elasticsearch-7.10.2-oss", {"match_only_text", "wildcard", "constant_keyword", "flattened", "version"}),
        ("elasticsearch-7.17.25", set()),
        ("elasticsearch-9.1.5", set()),
        ("opensearch-2.11.0", {"match_only_text", "wildcard", "constant_keyword", "flattened", "version"}),
    ],
)
def test_templates_map_a_type_the_server_lacks_as_a_portable_one(name, lacking):
    server = server_from(recorded_info(name))
    assert set(server.type_substitutes) == lacking
    mapping = bundled("ecs")
    late = dict(
        mapping.spec,
        custom_fields=dict(
            mapping.spec["custom_fields"], **{"winlog.record_id": "wildcard", "winlog.channel": "constant_keyword"}
        ),
    )
    types = template_body(Mapping(late, "late types"), substitutes=server.type_substitutes)["template"]["mappings"]
    winlog = types["properties"]["winlog"]["properties"]
    assert (winlog["record_id"]["type"], winlog["channel"]["type"]) == (
        ("keyword", "keyword") if lacking else ("wildcard", "constant_keyword")
    )


def test_legacy_template_is_the_composable_one_reshaped():
    composable = template_body()
    legacy = legacy_template_body(composable)
    assert legacy["order"] == composable["priority"] and legacy["settings"] == composable["template"]["settings"]
    assert legacy["mappings"]["properties"] == composable["template"]["mappings"]["properties"]
    assert legacy["mappings"]["_meta"] == composable["_meta"] and "_meta" not in legacy


@pytest.mark.parametrize("name", ["elasticsearch-8.5.3", "elasticsearch-9.1.5"])
def test_data_stream_install_keeps_the_users_policy_and_custom_template(name):
    with WireServer(name) as wire:
        cluster = _cluster(wire)
        first = install(cluster, "p1", "logs-win4658", ["logs-win4658-*"], data_stream=True)
        wire.store["ilm"]["logs-win4658"]["policy"]["phases"]["delete"]["min_age"] = "365d"  # the user's edit
        second = install(cluster, "p1", "logs-win4658", ["logs-win4658-*"], data_stream=True)
        template = wire.store["index_template"]["logs-win4658"]
    custom = "logs-win4658@custom"
    parts = [("lifecycle policy", "logs-win4658")] + (
        [] if name.startswith("elasticsearch-9") else [("component template", custom)]
    )
    assert [(item.kind, item.name, item.status) for item in first] == [("pipeline", "p1", "created")] + [
        part + ("created",) for part in parts
    ] + [("index template", "logs-win4658", "created")]
    assert [item.status for item in second] == ["unchanged"] + ["kept"] * len(parts) + ["unchanged"]
    assert wire.store["ilm"]["logs-win4658"]["policy"]["phases"]["delete"]["min_age"] == "365d"
    assert template["data_stream"] == {} and template["composed_of"] == [custom]
    assert template["template"]["settings"]["index"] == {
        "default_pipeline": "p1",
        "lifecycle": {"name": "logs-win4658"},
    }
    assert template.get("ignore_missing_component_templates") == (
        [custom] if name.startswith("elasticsearch-9") else None
    )


def test_install_without_the_monitor_privilege_says_so():
    with WireServer("elasticsearch-8.15.3") as wire:
        wire.faults["/"] = [
            (
                403,
                {
                    "error": {"type": "security_exception", "reason": "action [cluster:monitor/main] is unauthorized"},
                    "status": 403,
                },
            )
        ]
        with pytest.raises(InstallError, match="add the cluster privilege monitor"):
            install(_cluster(wire))
        assert wire.store["pipeline"] == {}


@pytest.mark.parametrize("name", ["elasticsearch-7.17.25", "opensearch-2.11.0"])
def test_data_stream_install_is_refused_before_8(name):
    with WireServer(name) as wire:
        with pytest.raises(InstallError, match="needs Elasticsearch 8.0"):
            install(_cluster(wire), data_stream=True)
        assert wire.store["pipeline"] == {}


@pytest.mark.parametrize("name", ["opensearch-2.11.0", "elasticsearch-7.2.0", "elasticsearch-8.15.3"])
def test_hunt_says_which_rules_cannot_run_on_the_server(name):
    rules = [
        {"rule_id": "e", "type": "eql", "query": "any where true"},
        {"rule_id": "s", "type": "esql", "query": "FROM x"},
        {"rule_id": "q", "type": "query", "language": "kuery", "query": "event.code : 4658"},
    ]
    with WireServer(name) as wire:
        results = {result.rule["rule_id"]: result for result in hunt(_cluster(wire), rules, ["x", "y-*"])}
        paths = [path for method, path, body in wire.requests]
    assert (results["q"].error, results["q"].hits) == (None, 0)
    server = server_from(recorded_info(name))
    if name == "elasticsearch-8.15.3":
        assert "cannot run" not in str(results["e"].error) + str(results["s"].error)
        assert "/x,y-*/_eql/search?allow_no_indices=true" in paths
    else:
        assert (
            results["e"].error == f"this rule cannot run on {server}: EQL needs Elasticsearch 7.12 or later "
            "(default distribution)"
        )
        assert results["s"].error == f"this rule cannot run on {server}: ES|QL needs Elasticsearch 8.11 or later"


# --- ship ---------------------------------------------------------------------------------------------------


def _events_file(tmp_path, copies=1, distinct=3):
    """A JSON-lines file of `distinct` different events, the whole written `copies` times."""
    event = next(read_paths([SAMPLE]))
    lines = []
    for number in range(distinct):
        document = to_winlogbeat(event)
        document["winlog"]["record_id"] = 1000 + number
        lines.append(json.dumps(document))
    path = tmp_path / "events.json"
    path.write_text("\n".join(lines * copies) + "\n")
    return str(path)


def _ship(wire, path, summary, **options):
    wire.store["pipeline"]["p1"] = {"processors": []}
    return list(ship(_cluster(wire, **options), [path], "idx", frozenset({4658}), summary, "p1", chunk_size=2))


@pytest.mark.parametrize("name", SERVER_NAMES)
def test_ship_indexes_each_document_once_and_reports_identical_ones_as_duplicates(name, tmp_path):
    path = _events_file(tmp_path, copies=2)
    with WireServer(name) as wire:
        summary = ShipSummary()
        outcomes = _ship(wire, path, summary)
        again = ShipSummary()
        _ship(wire, path, again)
        sent = sum(len(body) // 2 for method, route, body in wire.requests if route.startswith("/_bulk"))
    assert [outcome.ok for outcome in outcomes] == [True] * 3
    assert (summary.converted, summary.indexed, summary.duplicates, summary.index_failed, summary.failed) == (
        6,
        3,
        3,
        0,
        False,
    )
    assert summary.lines()[-1] == "indexed: 3, failed: 0, duplicates: 3"
    assert (again.indexed, again.duplicates) == (3, 3)  # the same content ids: overwritten, not added
    assert len(wire.documents) == 3 and sent == 6
    assert DUPLICATE_WINDOW >= 100_000


def test_ship_into_a_data_stream_switches_to_create(tmp_path):
    path = _events_file(tmp_path)
    with WireServer("elasticsearch-9.1.5") as wire:
        wire.data_streams.append("idx")
        summary = ShipSummary()
        outcomes = _ship(wire, path, summary)
        _ship(wire, path, ShipSummary())
        operations = [next(iter(body[0])) for method, route, body in wire.requests if route.startswith("/_bulk")]
    assert [outcome.ok for outcome in outcomes] == [True] * 3 and summary.indexed == 3 and len(wire.documents) == 3
    assert operations == ["index", "create", "create"] * 2  # the second run's creates answer 409: already there


def test_ship_counts_documents_the_bulk_answer_does_not_list_as_failed(tmp_path):
    path = _events_file(tmp_path)

    def one_item_short(lines):
        return 200, {
            "took": 1,
            "errors": False,
            "items": [
                {"index": {"_index": "idx", "_id": lines[0]["index"]["_id"], "status": 201, "result": "created"}}
            ],
        }

    with WireServer("elasticsearch-8.15.3") as wire:
        wire.faults["/_bulk"] = [one_item_short]
        summary = ShipSummary()
        outcomes = _ship(wire, path, summary)
    assert [outcome.ok for outcome in outcomes] == [True, False, True]
    assert outcomes[1].message == "not confirmed: the bulk answer lists 1 items for 2 documents sent"
    assert (summary.indexed, summary.index_failed, summary.failed) == (2, 1, True)


def test_ship_sends_again_what_the_cluster_rejected_with_429(tmp_path):
    path = _events_file(tmp_path, distinct=2)

    def second_rejected(lines):
        items = [
            {"index": {"_index": "idx", "_id": lines[0]["index"]["_id"], "status": 201}},
            {
                "index": {
                    "_index": "idx",
                    "_id": lines[2]["index"]["_id"],
                    "status": 429,
                    "error": {"type": "es_rejected_execution_exception", "reason": "queue full"},
                }
            },
        ]
        return 200, {"took": 1, "errors": True, "items": items}

    with WireServer("elasticsearch-7.2.0") as wire:
        wire.faults["/_bulk"] = [second_rejected]
        summary = ShipSummary()
        outcomes = _ship(wire, path, summary)
        resent = [body for method, route, body in wire.requests if route.startswith("/_bulk")][1]
    assert [outcome.ok for outcome in outcomes] == [True, True] and summary.indexed == 2
    assert len(resent) == 2 and resent[0]["index"]["_id"] == content_id(resent[1])


def test_ship_retries_connection_resets_with_backoff(tmp_path):
    path = _events_file(tmp_path, distinct=2)
    waits = []
    with WireServer("opensearch-2.11.0") as wire:
        wire.faults["/_bulk"] = ["reset"] * 3
        summary = ShipSummary()
        outcomes = _ship(wire, path, summary, sleep=waits.append, first_backoff=1.0)
    assert [outcome.ok for outcome in outcomes] == [True, True] and summary.indexed == 2
    assert waits == [1.0, 2.0, 4.0]


def test_ship_aborts_after_the_retries_with_what_was_not_sent(tmp_path):
    path = _events_file(tmp_path, distinct=3)
    with WireServer("elasticsearch-9.1.5") as wire:
        wire.faults["/_bulk"] = [None] + ["reset"] * 6  # None: the first batch goes through
        summary = ShipSummary()
        outcomes = []
        with pytest.raises(ShipAborted) as aborted:
            wire.store["pipeline"]["p1"] = {"processors": []}
            for outcome in ship(
                _cluster(wire, sleep=lambda seconds: None),
                [path],
                "idx",
                frozenset({4658}),
                summary,
                "p1",
                chunk_size=2,
            ):
                outcomes.append(outcome)
    assert [outcome.ok for outcome in outcomes] == [True, True]
    assert (summary.indexed, summary.not_sent, summary.failed) == (2, 1, True)
    assert "cannot reach the cluster" in str(aborted.value) and "record 3" in str(aborted.value)
    assert summary.lines()[-1] == "indexed: 2, failed: 0, duplicates: 0, not sent: 1"


def test_ship_aborts_on_an_answer_without_items(tmp_path):
    path = _events_file(tmp_path, distinct=1)
    with WireServer("elasticsearch-8.15.3") as wire:
        wire.faults["/_bulk"] = [(200, {})]
        summary = ShipSummary()
        with pytest.raises(ShipAborted, match="the server's answer to the bulk request has no items"):
            _ship(wire, path, summary)
    assert (summary.indexed, summary.not_sent) == (0, 1)


def test_cli_ship_exit_codes_and_summary(tmp_path):
    path = _events_file(tmp_path, copies=2, distinct=2)
    with WireServer("elasticsearch-7.17.25") as wire:
        wire.store["pipeline"]["win4658"] = {"processors": []}
        done = run_cli("es", "ship", path, "--url", wire.url)
        wire.faults["/_bulk"] = [(200, {})]
        broken = run_cli("es", "ship", path, "--url", wire.url)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines()[-1] == "indexed: 2, failed: 0, duplicates: 2"
    assert broken.returncode == 2
    assert "win4658 es: the server's answer to the bulk request has no items" in broken.stderr
    assert broken.stderr.splitlines()[-1] == "indexed: 0, failed: 0, duplicates: 2, not sent: 2"
    assert "Traceback" not in broken.stderr and SECRET not in done.stderr + broken.stderr


# --- simulate and settings ----------------------------------------------------------------------------------


def test_simulate_refuses_an_answer_without_docs():
    with WireServer("elasticsearch-8.15.3") as wire:
        wire.faults["/_ingest/pipeline/_simulate"] = [(200, {})]
        with pytest.raises(ServerAnswerError, match="has no docs list of 1 results"):
            simulate_documents(_cluster(wire), [{"a": 1}], pipeline={"processors": []})
        wire.faults["/_ingest/pipeline/_simulate"] = [(200, {})]
        result = run_cli("es", "simulate", "--generated", SAMPLE, "--url", wire.url)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == (
        "win4658 es: the server's answer to POST /_ingest/pipeline/_simulate has no docs "
        "list of 1 results: is this Elasticsearch or OpenSearch?"
    )


@pytest.mark.parametrize("url", ["http://[::1", "http://es.example:port", "http://[::1]:99999"])
def test_unreadable_urls_are_usage_errors(url):
    with pytest.raises(SettingsError, match="cannot be read"):
        settings_from({}, url=url)
    result = run_cli("es", "install", "--url", url)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"win4658 es: the Elasticsearch URL '{url}' cannot be read: ")


def test_ipv6_and_several_nodes_connect():
    cluster = connect(settings_from({}, url="http://[::1]:9200,https://es2.example"))
    assert sorted(node.base_url for node in cluster.transport.node_pool.all()) == [
        "http://[::1]:9200",
        "https://es2.example:443",
    ]
    assert SECRET not in repr(connect(settings_from({"WIN4658_ES_API_KEY": SECRET}, url="http://[::1]:9200")))


def test_tls_is_verified_and_no_credential_reaches_an_unverified_server(tls_files):
    certificate, context = tls_files
    with WireServer("elasticsearch-9.1.5", ssl_context=context) as wire:
        environ = {"WIN4658_ES_API_KEY": SECRET}
        with pytest.raises(TlsError) as refused:
            _ = connect(settings_from(environ, url=wire.url)).server
        assert "CERTIFICATE_VERIFY_FAILED" in refused.value.message and wire.requests == []
        assert str(connect(settings_from(environ, url=wire.url, ca_certs=certificate)).server) == "Elasticsearch 9.1.5"
        assert str(connect(settings_from(environ, url=wire.url, insecure=True)).server) == "Elasticsearch 9.1.5"
        result = run_cli("es", "install", "--url", wire.url)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith(
        "win4658 es: cannot reach Elasticsearch: TlsError: [SSL: CERTIFICATE_VERIFY_FAILED]"
    )
    assert [headers["authorization"] for headers in wire.headers] == [f"ApiKey {SECRET}"] * 2


def test_cli_install_reports_the_server_and_each_part():
    with WireServer("elasticsearch-7.2.0") as wire:
        first = run_cli("es", "install", "--url", wire.url)
        again = run_cli("es", "install", "--url", wire.url)
        refused = run_cli("es", "install", "--data-stream", "--url", wire.url)
    assert (first.returncode, first.stdout) == (
        0,
        "server: Elasticsearch 7.2.0\npipeline win4658: created\nindex template win4658: created\n",
    )
    assert again.stdout.splitlines()[1:] == ["pipeline win4658: unchanged", "index template win4658: unchanged"]
    assert refused.returncode == 2 and refused.stderr.startswith(
        "win4658 es: --data-stream needs Elasticsearch 8.0 or later with ILM; Elasticsearch 7.2.0 gets classic indices"
    )


def test_refusals_name_the_error_type_and_reason():
    with WireServer("opensearch-1.3.19") as wire:
        result = run_cli("es", "simulate", "--pipeline", "absent", "--url", wire.url)
    assert result.returncode == 2
    assert result.stderr == (
        "win4658 es: Elasticsearch refused the request: HTTP 404 resource_not_found_exception: "
        "pipeline [absent] is missing\n"
    )
