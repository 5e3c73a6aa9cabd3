"""The integration package packages/win4658 against the package-spec rules that can be checked offline (the
folder layout, the manifests' required and allowed keys, names and versions, field definitions, Kibana asset
names and references, changelog entries), and against the project's own sources (pipeline, fields, goldens, rules,
dashboards). No package-spec validator is published on PyPI: these are the rules of elastic/package-spec's
spec/integration/*.spec.yml, written out."""

import json
import os
import re

import pytest
import yaml

from tests.support.paths import ROOT
from win4658 import __version__
from win4658.elasticsearch.package import PACKAGE_DIR, SHIPPER_FIELDS, security_rules
from win4658.elasticsearch.pipeline import pipeline_body
from win4658.elasticsearch.template import field_types
from win4658.mapping import bundled, flatten
from win4658.sources import Sources

PACKAGE = os.path.join(ROOT, PACKAGE_DIR)
NAME = "win4658"
SEMVER = re.compile(r"^([0-9]+)\.([0-9]+)\.([0-9]+)(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z-]+)?$")
FIELD_NAME = re.compile(r"^[\-*_\/@A-Za-z0-9]+(\.[\-*_\/@A-Za-z0-9]+)*$")
DATA_STREAM_NAME = re.compile(r"^([a-z0-9]{2}|[a-z0-9][a-z0-9_]+[a-z0-9])$")
MANIFEST_KEYS = {
    "format_version",
    "name",
    "title",
    "description",
    "version",
    "source",
    "type",
    "categories",
    "conditions",
    "policy_templates",
    "icons",
    "screenshots",
    "vars",
    "owner",
    "agent",
    "elasticsearch",
}
MANIFEST_REQUIRED = {"format_version", "name", "title", "description", "version", "type", "owner"}
DATA_STREAM_KEYS = {
    "dataset",
    "title",
    "release",
    "ilm_policy",
    "dataset_is_prefix",
    "type",
    "hidden",
    "streams",
    "elasticsearch",
}
VAR_TYPES = {"bool", "email", "integer", "password", "select", "text", "textarea", "time_zone", "url", "yaml"}
FIELD_TYPES = {
    "constant_keyword",
    "text",
    "match_only_text",
    "keyword",
    "long",
    "integer",
    "date",
    "boolean",
    "ip",
    "object",
    "group",
    "double",
    "float",
    "flattened",
    "wildcard",
    "nested",
}
FIELD_KEYS = {"name", "type", "description", "object_type", "fields", "example", "external", "value"}
KIBANA_FOLDERS = {"dashboard", "visualization", "search", "index_pattern", "security_rule", "lens", "map", "tag"}
PREFIXED_FOLDERS = {"dashboard", "visualization", "search", "lens", "map", "tag"}  # `^{PACKAGE_NAME}-.+\.json$`
CHANGE_TYPES = {"breaking-change", "bugfix", "enhancement", "deprecation"}


def _yaml(relative):
    with open(os.path.join(PACKAGE, relative), encoding="utf-8") as stream:
        return yaml.safe_load(stream)


def _json(path):
    with open(path, encoding="utf-8") as stream:
        return json.load(stream)


def _files(relative=""):
    top = os.path.join(PACKAGE, relative)
    return sorted(
        os.path.relpath(os.path.join(folder, name), top) for folder, _dirs, names in os.walk(top) for name in names
    )


def _data_streams():
    return sorted(os.listdir(os.path.join(PACKAGE, "data_stream")))


def test_top_level_layout():
    top = set(os.listdir(PACKAGE))
    assert {"manifest.yml", "changelog.yml", "docs"} <= top
    assert top <= {
        "manifest.yml",
        "changelog.yml",
        "docs",
        "data_stream",
        "kibana",
        "NOTICE.txt",
        "LICENSE.txt",
        "_dev",
        "elasticsearch",
        "agent",
        "img",
        "validation.yml",
    }
    assert os.path.isfile(os.path.join(PACKAGE, "docs", "README.md"))


def test_manifest_keys_names_and_versions():
    manifest = _yaml("manifest.yml")
    assert MANIFEST_REQUIRED <= set(manifest) <= MANIFEST_KEYS
    assert re.fullmatch(r"[a-z0-9_]+", manifest["name"]) and manifest["name"] == NAME == os.path.basename(PACKAGE)
    assert SEMVER.match(manifest["format_version"]) and SEMVER.match(manifest["version"])
    assert manifest["version"] == __version__ and manifest["type"] == "integration"
    assert manifest["source"] == {"license": "Apache-2.0"}
    assert set(manifest["categories"]) <= {"security", "os_system", "monitoring"}
    assert set(manifest["owner"]) == {"github", "type"}
    assert manifest["owner"]["type"] in ("elastic", "partner", "community")
    for template in manifest["policy_templates"]:
        assert {"name", "title", "description"} <= set(template)
        assert set(template["data_streams"]) <= set(_data_streams())
        for policy_input in template["inputs"]:
            assert {"type", "title", "description"} <= set(policy_input)


def test_changelog_starts_with_the_manifest_version():
    changelog = _yaml("changelog.yml")
    assert changelog[0]["version"] == _yaml("manifest.yml")["version"]
    for entry in changelog:
        assert set(entry) == {"version", "changes"} and SEMVER.match(entry["version"])
        for change in entry["changes"]:
            assert set(change) == {"description", "type", "link"} and change["type"] in CHANGE_TYPES


@pytest.mark.parametrize("stream", _data_streams())
def test_data_stream_layout_and_manifest(stream):
    assert DATA_STREAM_NAME.match(stream)
    base = f"data_stream/{stream}"
    files = _files(base)
    assert {"manifest.yml", "elasticsearch/ingest_pipeline/default.json"} <= set(files)
    assert {path.split("/")[0] for path in files} <= {
        "manifest.yml",
        "fields",
        "agent",
        "elasticsearch",
        "_dev",
        "sample_event.json",
        "routing_rules.yml",
        "lifecycle.yml",
    }
    assert [path for path in files if path.startswith("fields/")] and all(
        path.endswith(".yml") for path in files if path.startswith("fields/")
    )
    manifest = _yaml(f"{base}/manifest.yml")
    assert "title" in manifest and set(manifest) <= DATA_STREAM_KEYS and manifest["type"] == "logs"
    for data_stream in manifest["streams"]:
        assert {"input", "title", "description"} <= set(data_stream)
        assert f"agent/stream/{data_stream['template_path']}" in files
        for variable in data_stream["vars"]:
            assert {"name", "type"} <= set(variable) and variable["type"] in VAR_TYPES
    assert _json(os.path.join(PACKAGE, base, "elasticsearch/ingest_pipeline/default.json")) == pipeline_body()


def _fields(stream):
    fields = []
    for path in _files(f"data_stream/{stream}/fields"):
        fields += _yaml(f"data_stream/{stream}/fields/{path}")
    return fields


@pytest.mark.parametrize("stream", _data_streams())
def test_fields_are_valid_unique_and_match_the_template(stream):
    fields = _fields(stream)
    for field in fields:
        assert set(field) <= FIELD_KEYS and FIELD_NAME.match(field["name"]) and field["type"] in FIELD_TYPES
        assert ("object_type" in field) == (field["type"] == "object")
    names = [field["name"] for field in fields]
    assert len(names) == len(set(names))
    declared = {
        field["name"]: field["type"]
        for field in fields
        if not field["name"].startswith("data_stream.") and field["name"] not in SHIPPER_FIELDS
    }
    assert declared == field_types(bundled("ecs"))  # every field the pipeline writes, with the template's type


@pytest.mark.parametrize("stream", _data_streams())
def test_every_field_of_the_expected_documents_is_declared(stream):
    """What `elastic-package test pipeline` checks after comparing: no field of an output is undefined."""
    declared = {field["name"] for field in _fields(stream)}
    objects = {field["name"] for field in _fields(stream) if field["type"] == "object"}
    folder = os.path.join(PACKAGE, f"data_stream/{stream}/_dev/test/pipeline")
    undefined = set()
    for name in os.listdir(folder):
        if name.endswith("-expected.json"):
            for document in _json(os.path.join(folder, name))["expected"]:
                undefined.update(
                    field
                    for field in flatten(document)
                    if field not in declared and not any(field.startswith(parent + ".") for parent in objects)
                )
    assert undefined == set()


@pytest.mark.parametrize("stream", _data_streams())
def test_pipeline_tests_are_the_goldens(stream):
    tests = _files(f"data_stream/{stream}/_dev/test/pipeline")
    goldens = sorted(
        name for name in os.listdir(os.path.join(ROOT, "ingest_pipelines", "tests")) if name.startswith("test-")
    )
    assert tests == goldens and len(tests) == 2 * 16
    for name in tests:
        if not name.endswith("-expected.json"):
            case = _json(os.path.join(PACKAGE, f"data_stream/{stream}/_dev/test/pipeline", name))
            expected = _json(os.path.join(PACKAGE, f"data_stream/{stream}/_dev/test/pipeline", name + "-expected.json"))
            assert set(case) == {"events"} and set(expected) == {"expected"}
            assert len(case["events"]) == len(expected["expected"])


def test_kibana_assets_named_by_id_with_the_package_prefix():
    files = _files("kibana")
    assert {path.split("/")[0] for path in files} <= KIBANA_FOLDERS
    for path in files:
        folder, name = path.split("/")
        asset = _json(os.path.join(PACKAGE, "kibana", path))
        assert name == f"{asset['id']}.json"
        if folder in PREFIXED_FOLDERS:
            assert re.fullmatch(rf"{NAME}-.+\.json", name) and not re.fullmatch(r".+-(ecs|ECS)\.json", name)


def test_kibana_references_resolve_in_the_package_or_to_fleets_data_view():
    assets = {
        asset["id"]: asset for asset in (_json(os.path.join(PACKAGE, "kibana", path)) for path in _files("kibana"))
    }
    unresolved = [
        (asset["id"], reference["id"])
        for asset in assets.values()
        for reference in asset.get("references", [])
        if reference["id"] not in assets
    ]
    assert sorted({target for _source, target in unresolved}) == ["logs-*"]
    assert {"win4658-handle-activity", "win4658-audit-volume", "win4658-handle-sessions"} <= set(assets)
    # the sessions are not a Fleet data stream (`win4658 es ship --sessions` writes them): their data view is packaged
    assert assets["win4658-sessions"]["attributes"]["title"] == "win4658-sessions*"
    assert {reference["id"] for reference in assets["win4658-sessions-longest"]["references"]} == {"win4658-sessions"}


def test_security_rules_are_the_generated_rules():
    with open(os.path.join(ROOT, "detections", "generated", "kibana_rules.ndjson"), encoding="utf-8") as stream:
        generated = {rule["rule_id"]: rule for rule in map(json.loads, stream)}
    packaged = {
        name[:-5]: _json(os.path.join(PACKAGE, "kibana", "security_rule", name))
        for name in os.listdir(os.path.join(PACKAGE, "kibana", "security_rule"))
    }
    assert {rule_id: asset["attributes"] for rule_id, asset in packaged.items()} == generated
    assert all(asset["type"] == "security-rule" and asset["id"] == rule_id for rule_id, asset in packaged.items())
    sources = Sources(ROOT)
    assert set(security_rules(sources.detections, sources.ecs_names)) == set(generated)


def test_the_agent_reads_the_security_channel_for_the_mapped_event_ids():
    manifest = _yaml("data_stream/handles/manifest.yml")
    variables = manifest["streams"][0]["vars"]
    (event_ids,) = [variable["default"] for variable in variables if variable["name"] == "event_id"]
    assert sorted(map(int, event_ids.split(","))) == sorted(bundled("ecs").spec["event_ids"])
    with open(os.path.join(PACKAGE, "data_stream/handles/agent/stream/winlog.yml.hbs"), encoding="utf-8") as stream:
        assert stream.read().startswith("name: Security\nevent_id: {{event_id}}\n")
