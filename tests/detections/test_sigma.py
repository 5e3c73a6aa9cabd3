"""Sigma rules: valid by the Sigma specification's schema, loaded by pySigma, converted for Splunk and Elasticsearch."""

import glob
import json
import os

import jsonschema
import pytest
import yaml
from sigma.backends.elasticsearch import LuceneBackend
from sigma.backends.splunk import SplunkBackend
from sigma.collection import SigmaCollection
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import ValueListPlaceholderTransformation

from tests.support.paths import ROOT, TEST_REFERENCE
from win4658.detections.definitions import load_bundle
from win4658.detections.sigma import sigma_value

SIGMA_DIR = os.path.join(ROOT, "detections", "generated", "sigma")
RULE_FILES = sorted(glob.glob(os.path.join(SIGMA_DIR, "*.yml")))
BY_ID = {detection.id: detection for detection in load_bundle()}


def _text(path):
    with open(path, encoding="utf-8") as stream:
        return stream.read()


def _allowlist_pipeline():
    """Fills %win4658_allowlist% from the shipped allow-list's every-host rows."""
    every_host = [sigma_value(path) for host, path in BY_ID["win4658_unexpected_process"].list.rows if host == "*"]
    return ProcessingPipeline(
        name="win4658 allow-list",
        items=[ProcessingItem(ValueListPlaceholderTransformation())],
        vars={"win4658_allowlist": every_host},
    )


def test_rules_for_detections_1_to_4():
    assert [os.path.basename(path) for path in RULE_FILES] == [
        "win4658_process_in_restricted_folder.yml",
        "win4658_process_outside_standard_folders.yml",
        "win4658_restricted_substring.yml",
        "win4658_unexpected_process.yml",
    ]


@pytest.mark.parametrize("path", RULE_FILES, ids=os.path.basename)
def test_rule_validates_against_the_sigma_schema(path):
    with open(os.path.join(TEST_REFERENCE, "sigma", "sigma-detection-rule-schema.json"), encoding="utf-8") as stream:
        schema = json.load(stream)
    rule = yaml.load(_text(path), Loader=yaml.BaseLoader)  # dates stay strings
    rule["detection"]["selection"]["EventID"] = int(rule["detection"]["selection"]["EventID"])
    errors = list(jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).iter_errors(rule))
    assert not errors, errors[0].message


@pytest.mark.parametrize("backend_class", [SplunkBackend, LuceneBackend], ids=["splunk", "elasticsearch"])
@pytest.mark.parametrize("path", RULE_FILES, ids=os.path.basename)
def test_pysigma_converts_the_rule(path, backend_class):
    pipeline = _allowlist_pipeline() if path.endswith("unexpected_process.yml") else None
    [query] = backend_class(pipeline).convert(SigmaCollection.from_yaml(_text(path)))
    assert "4658" in query and "ProcessName" in query


def test_converted_queries_say_what_the_detections_mean():
    def splunk(name, pipeline=None):
        return SplunkBackend(pipeline).convert(SigmaCollection.from_yaml(_text(os.path.join(SIGMA_DIR, name))))[0]

    substrings = splunk("win4658_restricted_substring.yml")
    assert substrings.startswith('EventID=4658 ProcessName IN ("*mimikatz*", "*mimidrv*"')
    folders = splunk("win4658_process_outside_standard_folders.yml")
    assert folders.startswith('EventID=4658 NOT (ProcessName IN ("*:\\\\Windows\\\\System32\\\\*"')
    allowlist = splunk("win4658_unexpected_process.yml", _allowlist_pipeline())
    assert '"*:\\\\Windows\\\\WinSxS\\\\*\\\\TiWorker.exe"' in allowlist and allowlist.startswith("EventID=4658 NOT")
    restricted = _text(os.path.join(SIGMA_DIR, "win4658_process_in_restricted_folder.yml"))
    lucene = LuceneBackend().convert(SigmaCollection.from_yaml(restricted))[0]
    assert lucene.startswith("EventID:4658 AND (ProcessName:(*\\:\\\\Users\\\\*\\\\AppData")
    assert " OR *\\:\\\\Users\\\\*\\\\Downloads\\\\* OR " in lucene


def test_sigma_values_escape_only_a_backslash_before_a_wildcard():
    assert sigma_value(r"*:\Users\*\Downloads\*") == r"*:\Users\\*\Downloads\\*"
    assert sigma_value(r"C:\Windows\explorer.exe") == r"C:\Windows\explorer.exe"
