"""`win4658 es` without a cluster: connection settings and secrets, rule loading, KQL translation, CLI failures."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.support.paths import ROOT
from win4658.elasticsearch.client import SettingsError, settings_from
from win4658.elasticsearch.install import _contains
from win4658.elasticsearch.rule_search import HuntError, kql_to_query_string, load_rules
from win4658.elasticsearch.ship import content_id
from win4658.event import Origin
from win4658.normalize import to_ecs
from win4658.readers.jsonlines import document_to_event
from win4658.winlogbeat import to_winlogbeat

SECRET = "c2VjcmV0LWFwaS1rZXktZG8tbm90LWxvZw=="


def run_cli(*args, env=None):
    environment = {key: value for key, value in os.environ.items() if not key.startswith("WIN4658_ES_")}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "win4658", *args], capture_output=True, text=True, env=environment, cwd=ROOT, timeout=120
    )


def test_settings_come_from_the_environment():
    settings = settings_from(
        {
            "WIN4658_ES_URL": "https://es.example:9200",
            "WIN4658_ES_API_KEY": SECRET,
            "WIN4658_ES_CA_CERTS": "/etc/ca.pem",
        }
    )
    assert (settings.url, settings.api_key, settings.ca_certs, settings.verify) == (
        "https://es.example:9200",
        SECRET,
        "/etc/ca.pem",
        True,
    )
    assert SECRET not in repr(settings)
    explicit = settings_from(
        {"WIN4658_ES_URL": "https://ignored:9200", "WIN4658_ES_USER": "elastic", "WIN4658_ES_PASSWORD": "pw"},
        url="http://localhost:9200",
        insecure=True,
    )
    assert (explicit.url, explicit.user, explicit.password, explicit.verify) == (
        "http://localhost:9200",
        "elastic",
        "pw",
        False,
    )
    assert "pw" not in repr(explicit)


def test_settings_refuse_missing_url_and_credentials_in_the_url():
    with pytest.raises(SettingsError, match="WIN4658_ES_URL"):
        settings_from({})
    with pytest.raises(SettingsError) as refused:
        settings_from({}, url="https://elastic:hunter2@es.example:9200")
    assert "hunter2" not in str(refused.value)
    with pytest.raises(SettingsError, match="http"):
        settings_from({}, url="ftp://es.example")


def test_cli_reports_an_unreachable_cluster_without_leaking_the_key():
    result = run_cli("es", "install", "--url", "http://127.0.0.1:9", env={"WIN4658_ES_API_KEY": SECRET})
    assert result.returncode == 2
    assert "cannot reach Elasticsearch" in result.stderr
    assert SECRET not in result.stderr + result.stdout


def test_cli_has_no_option_for_a_password_or_key():
    helptext = run_cli("es", "ship", "--help").stdout
    assert "--password " not in helptext and "--api-key" not in helptext and "--ask-password" in helptext
    assert "--insecure" in helptext and "--ca-certs" in helptext


def test_cli_without_url_says_how_to_set_it():
    result = run_cli("es", "simulate")
    assert result.returncode == 2
    assert result.stderr.strip() == "win4658 es: no Elasticsearch URL: pass --url or set WIN4658_ES_URL"


def test_hunt_without_the_rules_file_is_a_clear_error(tmp_path):
    result = run_cli("es", "hunt", "--rules", str(tmp_path / "absent.ndjson"), "--url", "http://127.0.0.1:9")
    assert result.returncode == 2
    assert "cannot read the Kibana rules" in result.stderr and "No such file or directory" in result.stderr


def test_hunt_refuses_a_negative_hit_count():
    result = run_cli("es", "hunt", "--max-hits", "-1", "--url", "http://127.0.0.1:9")
    assert result.returncode == 2 and "expected a whole number of at least 0, got '-1'" in result.stderr


def test_load_rules_keeps_rules_and_filters_by_name(tmp_path):
    path = tmp_path / "rules.ndjson"
    lines = [
        {
            "rule_id": "win4658-a",
            "name": "Handle closed by unexpected process",
            "type": "eql",
            "language": "eql",
            "query": "any where true",
            "index": ["win4658-*"],
        },
        {"list_id": "endpoint_list", "type": "endpoint", "name": "exception list"},
        {
            "rule_id": "win4658-b",
            "name": "Process in restricted folder",
            "type": "query",
            "language": "kuery",
            "query": "process.executable : *\\\\Temp\\\\*",
            "index": ["win4658-*"],
        },
        {"exported_count": 2, "missing_rules": []},
    ]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n\n")
    assert [rule["rule_id"] for rule in load_rules(str(path))] == ["win4658-a", "win4658-b"]
    assert [rule["rule_id"] for rule in load_rules(str(path), "RESTRICTED")] == ["win4658-b"]
    path.write_text("{not json\n")
    with pytest.raises(HuntError, match="line 1: invalid JSON"):
        load_rules(str(path))


@pytest.mark.parametrize(
    "kql, lucene",
    [
        ('process.name : "explorer.exe" and event.code : 4658', 'process.name:"explorer.exe" AND event.code:4658'),
        (
            "not user.name : SYSTEM or (host.name: dc01 and process.pid >= 4)",
            "NOT user.name:SYSTEM OR (host.name:dc01 AND process.pid:>=4)",
        ),
        (
            'process.executable : C\\:\\\\Users\\\\*\\\\Temp\\\\* and message : "a and b : c"',
            'process.executable:C\\:\\\\Users\\\\*\\\\Temp\\\\* AND message:"a and b : c"',
        ),
        (
            "process.name : android.exe or process.name : notepad.exe",
            "process.name:android.exe OR process.name:notepad.exe",
        ),
    ],
)
def test_kql_translates_to_query_string(kql, lucene):
    assert kql_to_query_string(kql) == lucene


def test_kql_nested_queries_are_refused():
    with pytest.raises(HuntError, match="nested"):
        kql_to_query_string("user:{ name: x }")


def test_install_compares_only_what_it_sends():
    wanted = {"version": 100, "template": {"settings": {"index": {"default_pipeline": "win4658"}}}}
    stored = {"version": 100, "composed_of": [], "template": {"settings": {"index": {"default_pipeline": "win4658"}}}}
    assert _contains(stored, wanted)
    assert not _contains(dict(stored, version=99), wanted)
    assert not _contains({"version": 100, "template": {"settings": {}}}, wanted)


def test_shipped_documents_have_content_ids():
    first = {"winlog": {"record_id": 1}, "@timestamp": "2015-09-22T00:15:42Z"}
    assert (
        content_id(first)
        == content_id(json.loads(json.dumps(first)))
        != content_id({**first, "winlog": {"record_id": 2}})
    )
    assert len(content_id(first)) == 40


def test_winlogbeat_documents_round_trip_to_the_same_ecs(corpus_events):
    """The pipeline's input loses nothing: every corpus event reads back from its Winlogbeat document to the same
    ECS."""
    different = [
        event.origin
        for event in corpus_events
        if to_ecs(
            document_to_event(
                json.loads(json.dumps(to_winlogbeat(event))), Origin("round trip", 1), frozenset({event.event_id})
            )
        )
        != to_ecs(event)
    ]
    assert len(corpus_events) == 5419 + 2523 + 2134
    assert different == []


def test_ship_sends_content_ids_and_reports_origins(tmp_path):
    from tests.support.es_wire import WireServer
    from win4658.elasticsearch.client import connect, settings_from
    from win4658.elasticsearch.ship import ShipSummary, ship
    from win4658.readers import read_paths

    sample = os.path.join(ROOT, "tests", "fixtures", "seed_sample.xml")
    (tmp_path / "README.txt").write_text("not events\n")
    shutil.copy(sample, tmp_path / "sample.xml")
    document = to_winlogbeat(next(read_paths([sample])))
    with WireServer("elasticsearch-8.15.3") as wire:
        wire.store["pipeline"]["win4658"] = {"processors": []}
        cluster = connect(settings_from({}, url=wire.url))
        summary = ShipSummary()
        outcomes = list(ship(cluster, [str(tmp_path)], "win4658-events", frozenset({4658}), summary))
        assert wire.requests[-1] == (
            "POST",
            "/_bulk?pipeline=win4658",
            [{"index": {"_index": "win4658-events", "_id": content_id(document)}}, document],
        )
        (tmp_path / "broken.json").write_text('{"winlog": {"event_id": 4658}\n')
        broken = ShipSummary()
        list(ship(cluster, [str(tmp_path)], "win4658-events", frozenset({4658}), broken))
    assert [error.reason for error in outcomes if not hasattr(error, "ok")] == ["not an event file"]
    assert [str(outcome.origin) for outcome in outcomes if hasattr(outcome, "ok")] == [
        f"{tmp_path / 'sample.xml'}: record 1 (byte offset 2)"
    ]
    assert (summary.stats.records, summary.converted, summary.indexed, summary.failed) == (1, 1, 1, False)
    assert broken.skipped["malformed"] == 1 and broken.failed
    assert broken.lines()[-1] == "indexed: 1, failed: 0, duplicates: 0"
