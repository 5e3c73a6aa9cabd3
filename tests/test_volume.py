"""Pair-safe volume filters (win4658.volume): the Splunk blacklist, replayed with PCRE2 on the events as a forwarder
renders them, and the Winlogbeat condition, evaluated on the documents Winlogbeat sends, drop a process's 4656 and
4658 together, so the handle lifetimes of what is kept are exactly those of the unfiltered log."""

import os
import re
import xml.etree.ElementTree as ET
from collections import Counter

import pcre2
import pytest
import yaml

from tests.support.paths import ROOT
from tests.support.sample import CLASSIC_SAMPLE
from win4658 import volume
from win4658.detections.definitions import DefinitionError
from win4658.detections.lifetime import HandleTracker
from win4658.generate import generated_files
from win4658.splunk.runtime.render import render_event_xml
from win4658.times import time_ns
from win4658.winlogbeat import to_winlogbeat

SHIPPED = volume.load_list(os.path.join(ROOT, volume.LIST_PATH))


def _blacklist_patterns(value):
    """key → compiled regex of a blacklist value (key="regex" key="regex" …), as Splunk reads it."""
    return {key: pcre2.compile(regex) for key, regex in re.findall(r'(\$?\w+)="((?:[^"\\]|\\.)*)"', value)}


def _splunk_drops_xml(patterns, raw):
    return patterns["$XmlRegex"].search(raw) is not None


def _splunk_drops_classic(patterns, raw):
    code = re.search(r"(?m)^EventCode=(\d+)", raw).group(1)
    message = raw.split("Message=", 1)[1]
    return patterns["EventCode"].search(code) is not None and patterns["Message"].search(message) is not None


def _condition(node, document):
    """Beats' conditions used by the example: and, or, equals (a field's whole value)."""
    ((kind, argument),) = node.items()
    if kind == "and":
        return all(_condition(child, document) for child in argument)
    if kind == "or":
        return any(_condition(child, document) for child in argument)
    ((path, expected),) = argument.items()
    value = document
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value == expected


def _winlogbeat_condition(processes):
    config = yaml.safe_load(volume.winlogbeat_example(processes))
    (log,) = config["winlogbeat.event_logs"]
    assert log["name"] == "Security" and log["event_id"] == "4656, 4658, 4663"
    (processor,) = log["processors"]
    return processor["drop_event"]["when"]


@pytest.fixture(scope="module")
def corpus_in_time_order(corpus_events):
    return sorted(corpus_events, key=lambda event: time_ns(event.system["TimeCreated"]))


@pytest.fixture(scope="module")
def noisy_corpus_processes(corpus_events):
    """The two processes with most 4656 in the corpus, as a list to filter."""
    counts = Counter(event.data.get("ProcessName") for event in corpus_events if event.event_id == 4656)
    return [volume.NoisyProcess(path, "test") for path, _count in counts.most_common(2)]


def _lifetimes(events):
    tracker = HandleTracker()
    lifetimes = (tracker.observe(event, time_ns(event.system["TimeCreated"])) for event in events)
    return {(lifetime.opened.origin, lifetime.closed.origin) for lifetime in lifetimes if lifetime is not None}


def test_the_splunk_blacklist_drops_4656_and_4658_together_and_keeps_every_other_lifetime(
    corpus_in_time_order, noisy_corpus_processes
):
    patterns = _blacklist_patterns(volume.splunk_blacklists(noisy_corpus_processes)["xml"])
    names = {process.process_path.lower() for process in noisy_corpus_processes}
    dropped = [event for event in corpus_in_time_order if _splunk_drops_xml(patterns, render_event_xml(event))]
    assert dropped and all(
        event.event_id in (4656, 4658) and event.data["ProcessName"].lower() in names for event in dropped
    )
    assert len(dropped) == sum(
        1
        for event in corpus_in_time_order
        if event.event_id in (4656, 4658) and event.data.get("ProcessName", "").lower() in names
    )
    dropped_origins = {event.origin for event in dropped}
    kept = [event for event in corpus_in_time_order if event.origin not in dropped_origins]
    before = _lifetimes(corpus_in_time_order)
    whole = {pair for pair in before if not set(pair) & dropped_origins}
    assert not [pair for pair in before if len(set(pair) & dropped_origins) == 1], "a lifetime was cut in two"
    assert _lifetimes(kept) == whole and len(whole) < len(before)


def test_the_winlogbeat_condition_drops_what_the_splunk_blacklist_drops(corpus_in_time_order, noisy_corpus_processes):
    patterns = _blacklist_patterns(volume.splunk_blacklists(noisy_corpus_processes)["xml"])
    condition = _winlogbeat_condition(noisy_corpus_processes)
    by_splunk = [_splunk_drops_xml(patterns, render_event_xml(event)) for event in corpus_in_time_order]
    by_winlogbeat = [_condition(condition, to_winlogbeat(event)) for event in corpus_in_time_order]
    assert by_winlogbeat == by_splunk and sum(by_splunk) > 0


@pytest.mark.parametrize("event_code, dropped", [(4658, True), (4656, True), (4663, False), (4624, False)])
def test_the_classic_blacklist_on_the_sample(event_code, dropped):
    patterns = _blacklist_patterns(
        volume.splunk_blacklists([volume.NoisyProcess("C:\\Windows\\explorer.exe", "x")])["classic"]
    )
    raw = CLASSIC_SAMPLE.replace("EventCode=4658", f"EventCode={event_code}")
    assert _splunk_drops_classic(patterns, raw) is dropped
    assert _splunk_drops_classic(patterns, raw.replace("\n", "\r\n")) is dropped
    other = raw.replace("explorer.exe", "explorer.exe.bak")
    assert not _splunk_drops_classic(patterns, other)


def test_the_shipped_examples_hold_every_listed_process():
    files = generated_files(ROOT)
    inputs = files["volume/generated/inputs.conf.example"]
    assert "\n[WinEventLog://Security]\nrenderXml = true\nblacklist3 = $XmlRegex=" in inputs
    query = ET.fromstring(files["volume/generated/wef_subscription_query.xml"])
    suppress = query.find("Query/Suppress").text
    assert suppress.startswith("*[System[(EventID=4656 or EventID=4658)]] and *[EventData[(")
    assert query.find("Query/Select").text == "*[System[(EventID=4656 or EventID=4658 or EventID=4663)]]"
    condition = _winlogbeat_condition(SHIPPED)
    for process in SHIPPED:
        assert f"Data[@Name='ProcessName']='{process.process_path}'" in suppress
        assert {"equals": {"winlog.event_data.ProcessName": process.process_path}} in condition["and"][1]["or"]
        assert process.process_path.replace("\\", "\\\\").replace(".", "\\.") in inputs


@pytest.mark.parametrize(
    "row", ["C:\\Tools\\*.exe", "C:\\Tools\\it's.exe", '"C:\\Tools\\a"".exe"', "tool.exe", "\\\\server\\share\\a.exe"]
)
def test_a_list_entry_that_is_not_a_plain_full_path_is_refused_naming_the_line(tmp_path, row):
    listed = tmp_path / "noisy.csv"
    listed.write_text(f"process_path,reason\nC:\\Tools\\a.exe,ok\n{row},bad\n", encoding="utf-8")
    with pytest.raises(DefinitionError, match=r"noisy.csv: line 3: .*not a full path"):
        volume.load_list(str(listed))


def test_an_empty_list_or_a_wrong_header_is_refused(tmp_path):
    listed = tmp_path / "noisy.csv"
    listed.write_text("process_path,reason\n", encoding="utf-8")
    with pytest.raises(DefinitionError, match="noisy.csv: the list is empty"):
        volume.load_list(str(listed))
    listed.write_text("path\nC:\\a.exe\n", encoding="utf-8")
    with pytest.raises(DefinitionError, match="header must be process_path,reason"):
        volume.load_list(str(listed))
