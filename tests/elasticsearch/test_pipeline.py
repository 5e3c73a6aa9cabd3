"""The generated ingest pipeline and index template: schema, portability, and the golden cases against to_ecs."""

import glob
import json
import os

import jsonschema
import pytest

from tests.support.paths import ROOT, TEST_REFERENCE
from win4658.elasticsearch.artifacts import PIPELINE_FILE, TEMPLATE_FILE
from win4658.elasticsearch.compare import differences, without_shipper_fields
from win4658.elasticsearch.pipeline import pipeline_body
from win4658.elasticsearch.simulate import golden_cases
from win4658.elasticsearch.template import field_types
from win4658.event import Origin
from win4658.generate import generated_files
from win4658.mapping import Mapping, MappingError, bundled, flatten
from win4658.normalize import to_ecs
from win4658.readers.jsonlines import document_to_event
from win4658.reference import ecs_fields

GOLDEN_DIR = os.path.join(ROOT, "ingest_pipelines", "tests")

# The processors and their own options as they exist since Elasticsearch 7.0 (and in OpenSearch).
COMMON_OPTIONS = {"if", "ignore_failure", "on_failure", "tag"}
PORTABLE_OPTIONS = {
    "append": {"field", "value"},
    "convert": {"field", "target_field", "type", "ignore_missing"},
    "date": {"field", "target_field", "formats", "timezone", "locale"},
    "dissect": {"field", "pattern", "append_separator", "ignore_missing"},
    "dot_expander": {"field", "path"},
    "drop": set(),
    "fail": {"message"},
    "foreach": {"field", "processor", "ignore_missing"},
    "grok": {"field", "patterns", "pattern_definitions", "trace_match", "ignore_missing"},
    "gsub": {"field", "pattern", "replacement", "target_field", "ignore_missing"},
    "join": {"field", "separator", "target_field"},
    "json": {"field", "target_field", "add_to_root"},
    "kv": {
        "field",
        "field_split",
        "value_split",
        "target_field",
        "include_keys",
        "exclude_keys",
        "ignore_missing",
        "prefix",
        "trim_key",
        "trim_value",
        "strip_brackets",
    },
    "lowercase": {"field", "target_field", "ignore_missing"},
    "pipeline": {"name"},
    "remove": {"field", "ignore_missing"},
    "rename": {"field", "target_field", "ignore_missing"},
    "script": {"lang", "id", "source", "params"},
    "set": {"field", "value", "override"},
    "split": {"field", "separator", "target_field", "ignore_missing"},
    "trim": {"field", "target_field", "ignore_missing"},
    "uppercase": {"field", "target_field", "ignore_missing"},
}


def _load(path):
    with open(path, encoding="utf-8") as stream:
        return json.load(stream)


def _committed_pipelines():
    return [
        _load(path)
        for path in sorted(glob.glob(os.path.join(ROOT, "ingest_pipelines", "*.json")))
        if "template" not in os.path.basename(path)
    ]


def _processors(processors):
    """Every processor, including those inside on_failure handlers and foreach."""
    for processor in processors:
        for kind, options in processor.items():
            yield kind, options
            yield from _processors(options.get("on_failure", []))
            if kind == "foreach":
                yield from _processors([options["processor"]])


def _all_processors(pipeline):
    return list(_processors(pipeline["processors"] + pipeline.get("on_failure", [])))


def test_committed_files_are_what_the_mapping_generates():
    for relative in (PIPELINE_FILE, TEMPLATE_FILE):
        with open(os.path.join(ROOT, relative), encoding="utf-8", newline="") as stream:
            assert stream.read() == generated_files(ROOT)[relative], f"{relative} drifted: run `win4658 generate`"


@pytest.mark.parametrize("pipeline", _committed_pipelines(), ids=lambda pipeline: pipeline["description"][:20])
def test_pipeline_validates_against_elasticsearch_schema(pipeline):
    schema = _load(os.path.join(TEST_REFERENCE, "elasticsearch", "ingest_pipeline.schema.json"))
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(pipeline), key=lambda error: len(error.absolute_path), reverse=True)
    assert not errors, f"{list(errors[0].absolute_path)}: {errors[0].message}"


@pytest.mark.parametrize("pipeline", _committed_pipelines(), ids=lambda pipeline: pipeline["description"][:20])
def test_pipeline_uses_only_portable_processors_and_options(pipeline):
    for kind, options in _all_processors(pipeline):
        assert kind in PORTABLE_OPTIONS, f"processor {kind} is not available since Elasticsearch 7.0"
        unknown = set(options) - PORTABLE_OPTIONS[kind] - COMMON_OPTIONS
        assert not unknown, f"{kind}: options {sorted(unknown)} are not portable"
        assert isinstance(options.get("if", ""), str)
    assert isinstance(pipeline["version"], int) and pipeline["description"]


def test_every_processor_is_gated_on_the_mapping_event_ids_and_tagged():
    pipeline = pipeline_body()
    gate = "ctx.winlog instanceof Map && ['4656', '4658', '4663', '4690'].contains("
    tags = [options["tag"] for processor in pipeline["processors"] for options in processor.values()]
    assert all(options["if"].startswith(gate) for processor in pipeline["processors"] for options in processor.values())
    assert len(tags) == len(set(tags)) == len(pipeline["processors"])


def test_failures_keep_the_document_with_error_message_and_tag():
    on_failure = pipeline_body()["on_failure"]
    assert on_failure[0]["set"]["field"] == "error.message"
    assert "{{{_ingest.on_failure_message}}}" in on_failure[0]["set"]["value"]
    assert on_failure[1] == {"append": {"field": "tags", "value": ["win4658_pipeline_error"]}}
    assert not any(kind in ("drop", "fail") for kind, _ in _all_processors(pipeline_body()))


def test_pipeline_stamps_the_ecs_version_of_to_ecs():
    sample_event = document_to_event(_golden("seed-sample")[0][0], Origin("seed", 1), frozenset({4658}))
    version = [
        options["value"]
        for processor in pipeline_body()["processors"]
        for kind, options in processor.items()
        if kind == "set" and options["field"] == "ecs.version"
    ]
    assert version == [to_ecs(sample_event)["ecs"]["version"]] == ["9.4.0"]


def test_template_maps_every_field_the_pipeline_writes():
    template = _load(os.path.join(ROOT, TEMPLATE_FILE))
    properties = flatten(template["template"]["mappings"]["properties"])
    mapped = {field[: -len(".type")].replace(".properties", ""): index_type for field, index_type in properties.items()}
    assert mapped == field_types(bundled("ecs"))
    assert mapped["@timestamp"] == "date" and mapped["process.pid"] == "long"
    assert {mapped[f"winlog.{name}"] for name in ("event_id", "record_id", "logon.id", "provider_guid")} == {"keyword"}
    assert template["template"]["settings"]["index"]["default_pipeline"] == "win4658"
    assert template["index_patterns"] == ["win4658-*"]
    event_data = template["template"]["mappings"]["dynamic_templates"][0]["winlog_event_data"]
    assert event_data["mapping"] == {"type": "keyword"}


def test_template_types_are_those_of_ecs():
    types = field_types(bundled("ecs"))
    custom = bundled("ecs").spec["custom_fields"]
    assert {field: index_type for field, index_type in types.items() if field not in custom} == {
        field: ecs_fields()[field]["type"] for field in types if field not in custom
    }
    assert types["error.message"] == "match_only_text" and types["process.pid"] == "long"


def test_generate_maps_any_ecs_field():
    spec = dict(bundled("ecs").spec)
    spec["fields"] = spec["fields"] + [{"target": "process.title", "source": "EventData.ProcessName"}]
    assert field_types(Mapping(spec, "extra.yml"))["process.title"] == "keyword"


def test_a_target_neither_ecs_nor_custom_is_refused():
    spec = dict(bundled("ecs").spec)
    spec["fields"] = spec["fields"] + [{"target": "process.handle_id", "source": "EventData.HandleId"}]
    with pytest.raises(MappingError, match=r"process.handle_id: not an ECS 9.4.0 field: declare it in custom_fields"):
        field_types(Mapping(spec, "extra.yml"))


def test_golden_cases_cover_the_required_shapes():
    cases = golden_cases(GOLDEN_DIR)
    names = {os.path.basename(case.path)[len("test-") : -len(".json")] for case in cases}
    assert names >= {
        "seed-sample",
        "evtx",
        "nxlog",
        "otrf-export",
        "otrf-minimal-export",
        "winlogbeat6",
        "sam-object-server",
        "dwm-sid",
        "temp-short-name",
        "unc-path",
        "missing-optional-field",
        "dash-values",
        "event-id-types",
        "other-events",
        "winlogbeat8-and-agent",
    }
    assert all(case.expected is not None for case in cases)
    assert sum(len(case.events) for case in cases) == 22


def _golden(name):
    path = os.path.join(GOLDEN_DIR, f"test-{name}.json")
    return _load(path)["events"], _load(path + "-expected.json")["expected"]


@pytest.mark.parametrize("case", golden_cases(GOLDEN_DIR), ids=lambda case: os.path.basename(case.path))
def test_to_ecs_reproduces_every_expected_document(case):
    assert len(case.events) == len(case.expected)
    for record, (document, output) in enumerate(zip(case.events, case.expected), 1):
        event = document_to_event(document, Origin(case.path, record), bundled("ecs").event_ids)
        if event is None:
            assert output == document, f"record {record}: an event the mapping does not cover must pass untouched"
            continue
        assert differences(without_shipper_fields(output), to_ecs(event)) == [], f"record {record}"
        shipped = without_shipper_fields(document)
        mapped = flatten(without_shipper_fields(output))
        assert {key: value for key, value in flatten(document).items() if key not in flatten(shipped)} == {
            key: value for key, value in flatten(output).items() if key not in mapped
        }, f"record {record}: the shipper's own fields must pass through unchanged"


def test_golden_values_of_the_notable_cases():
    def first_expected(name):
        return flatten(_golden(name)[1][0])

    assert first_expected("sam-object-server")["winlog.event_data.ObjectServer"] == "Security Account Manager"
    assert first_expected("dwm-sid")["user.id"] == "S-1-5-90-0-1"
    temp = first_expected("temp-short-name")
    assert temp["process.executable"] == "C:\\Users\\NORA~1.QUE\\AppData\\Local\\Temp\\RarSFX1\\winx64_payload.exe"
    assert temp["process.name"] == "winx64_payload.exe"
    unc = first_expected("unc-path")
    assert (unc["process.name"], unc["process.pid"]) == ("handle64.exe", 6700)
    assert "user.domain" not in first_expected("missing-optional-field")
    dashes = first_expected("dash-values")
    assert "user.name" not in dashes and "winlog.event_data.SubjectUserName" not in dashes
    events, expected = _golden("event-id-types")
    assert [document["winlog"].get("event_id") for document in events] == [4658, "4658", None]
    assert [(output["event"]["code"], output["winlog"]["event_id"]) for output in expected] == [("4658", "4658")] * 3
    events, expected = _golden("other-events")
    assert [document["winlog"]["event_id"] for document in events] == ["4624", "4625"] and expected == events
    winlogbeat8, agent = _golden("winlogbeat8-and-agent")[1]
    assert (winlogbeat8["ecs"]["version"], winlogbeat8["host"]["hostname"], winlogbeat8["host"]["name"]) == (
        "9.4.0",
        "win-srv01",
        "WIN-SRV01.corp.example.com",
    )
    assert agent["data_stream"]["dataset"] == "windows.forwarded" and agent["winlog"]["record_id"] == "1053993"
