"""The mapping files against their schema and against the official ECS and CIM field definitions."""

import json
import os
import re

import pytest
import yaml
from jsonschema import Draft202012Validator

from tests.support.paths import ROOT, SAMPLE_XML
from win4658 import reference
from win4658.mapping import MappingError, bundled, load_mapping
from win4658.normalize import to_cim, to_ecs
from win4658.readers import read_paths

MAPPINGS = os.path.join(ROOT, "mappings")
ECS_TYPES_FOR_PYTHON = {
    "keyword": str,
    "constant_keyword": str,
    "wildcard": str,
    "match_only_text": str,
    "text": str,
    "long": int,
    "integer": int,
    "date": str,
    "object": dict,
    "flattened": dict,
}


def spec(name: str) -> dict:
    with open(os.path.join(MAPPINGS, f"{name}.yml"), encoding="utf-8") as stream:
        return yaml.safe_load(stream)


@pytest.fixture(scope="module")
def ecs_fields() -> dict:
    return reference.ecs_fields()


@pytest.fixture(scope="module")
def cim_datasets() -> list:
    return reference.cim_datasets()


@pytest.mark.parametrize("name", ["ecs", "cim"])
def test_mapping_files_validate_against_their_schema(name):
    with open(os.path.join(MAPPINGS, "mapping.schema.json"), encoding="utf-8") as stream:
        schema = json.load(stream)
    Draft202012Validator.check_schema(schema)
    errors = [f"{list(error.path)}: {error.message}" for error in Draft202012Validator(schema).iter_errors(spec(name))]
    assert errors == []


def test_schema_rejects_an_unknown_transform():
    with open(os.path.join(MAPPINGS, "mapping.schema.json"), encoding="utf-8") as stream:
        schema = json.load(stream)
    bad = dict(spec("ecs"), fields=[{"target": "process.pid", "source": "EventData.ProcessId", "transform": "eval"}])
    assert not Draft202012Validator(schema).is_valid(bad)


def test_loading_rejects_an_unknown_table(tmp_path):
    rule = {"target": "event.action", "source": "System.EventID", "transform": "lookup", "table": "nope"}
    bad = dict(spec("ecs"), fields=[rule])
    (tmp_path / "bad.yml").write_text(yaml.safe_dump(bad))
    with pytest.raises(MappingError, match="unknown table 'nope'"):
        load_mapping(str(tmp_path / "bad.yml"))


def test_ecs_version_is_the_one_validated_against():
    version = reference.ecs_version()
    mapping = spec("ecs")
    assert mapping["ecs_version"] == version
    assert [rule["value"] for rule in mapping["fields"] if rule["target"] == "ecs.version"] == [version]


def test_every_ecs_target_is_an_ecs_field_or_a_declared_custom_field(ecs_fields):
    mapping = spec("ecs")
    for rule in mapping["fields"]:
        target = rule["target"]
        assert (target in ecs_fields) != (target in mapping["custom_fields"]), target


def _expected_python_type(ecs_fields: dict, custom: dict, field: str):
    if field in ecs_fields:
        return ECS_TYPES_FOR_PYTHON[ecs_fields[field]["type"]], "array" in ecs_fields[field]["normalize"]
    for name, kind in custom.items():
        if field == name or field.startswith(name + "."):
            return (str if kind == "object" else ECS_TYPES_FOR_PYTHON[kind]), kind == "keyword"
    raise AssertionError(f"{field} is neither ECS nor declared")


def test_produced_ecs_values_have_the_field_types(ecs_fields, corpus_events):
    custom = spec("ecs")["custom_fields"]
    checked = set()
    for event in corpus_events:
        for field, value in _flat_items(to_ecs(event)):
            python_type, array_ok = _expected_python_type(ecs_fields, custom, field)
            values = value if isinstance(value, list) else [value]
            assert array_ok or not isinstance(value, list), f"{field} may not be an array"
            assert all(isinstance(item, python_type) for item in values), (field, value)
            checked.add(field)
    assert {"process.pid", "@timestamp", "related.user", "winlog.event_data.HandleId"} <= checked


def _flat_items(document, prefix=""):
    for key, value in document.items():
        if isinstance(value, dict):
            yield from _flat_items(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def test_event_categories_and_types_are_allowed_together():
    allowed = reference.ecs_allowed_values()
    tables = spec("ecs")["tables"]
    assert set(tables["event_category"]) == set(tables["event_type"]) == set(spec("ecs")["event_ids"])
    for event_id, categories in tables["event_category"].items():
        for category in categories:
            assert category in allowed["event.category"]["allowed_values"]
            expected_types = allowed["event.category"]["expected_event_types"][category]
            assert set(tables["event_type"][event_id]) <= set(expected_types), (event_id, category)
    assert set(tables["keywords_outcome"].values()) <= set(allowed["event.outcome"]["allowed_values"])


def test_every_cim_target_is_a_cim_field(cim_datasets):
    mapping = spec("cim")
    cim_fields = {field for dataset in cim_datasets for field in dataset["fields"]}
    extra = set(mapping["extra_fields"])
    assert not extra & cim_fields
    for rule in mapping["fields"]:
        if rule.get("transform") != "all_fields":
            assert rule["target"] in cim_fields | extra, rule["target"]


def spl_validity(expression: str):
    """The CIM validity expressions used for our fields, as Python predicates (value → kept?)."""
    if re.fullmatch(r"if\(isnum\((\w+)\),\1,null\(\)\)", expression):
        return lambda value: isinstance(value, (int, float))
    match = re.fullmatch(r'if\(match\((\w+),"(.*)"\),\1,null\(\)\)', expression)
    if match:

        def unescaped(escaped):
            return escaped.group(1) if escaped.group(1) in '\\"' else escaped.group(0)

        pattern = re.compile(re.sub(r"\\(.)", unescaped, match.group(2)))
        return lambda value: pattern.search(str(value)) is not None
    if re.fullmatch(r"if\(like\((\w+),'%\\\"%'\),null\(\),\1\)", expression):
        return lambda value: '"' not in str(value)
    return None


def test_cim_values_pass_the_data_models_validity_rules(cim_datasets, corpus_events):
    rules = {}
    for dataset in cim_datasets:
        for field, definition in dataset["fields"].items():
            check = spl_validity(definition.get("validity", ""))
            if check is not None:
                rules.setdefault(field, []).append(check)
    assert {"process_id", "process_name", "object_path"} <= set(rules)
    statuses = {"success", "failure"}
    produced = 0
    for event in corpus_events:
        cim = to_cim(event)
        for field, checks in rules.items():
            if field in cim:
                assert all(check(cim[field]) for check in checks), (field, cim[field], str(event.origin))
                produced += 1
        assert cim.get("status", "success") in statuses
    assert produced > 10000


def test_process_name_validity_rejects_a_path():
    check = spl_validity('if(match(process_name,"^[^\\\\\\/]+$"),process_name,null())')
    assert check("explorer.exe") and not check("C:\\Windows\\explorer.exe") and not check("a/b")


def test_bundled_mapping_is_loaded_once():
    assert bundled("ecs") is bundled("ecs")
    (sample,) = read_paths([SAMPLE_XML])
    assert to_ecs(sample)["event"]["code"] == "4658"
