"""The real corpus: per-file counts equal tests/corpus_manifest.json, and the mapping holds for every 4658."""

import collections
import re

import pytest

from tests.support.paths import CORPUS_FILES, corpus_path
from win4658.event import Event, ReadStats
from win4658.normalize import to_cim, to_ecs
from win4658.readers import read_paths
from win4658.transforms import basename


def test_manifest_lists_every_corpus_file():
    assert len(CORPUS_FILES) == 14
    assert sum(entry["events"]["4658"] for entry in CORPUS_FILES) == 5419
    assert sum(entry["records"] for entry in CORPUS_FILES) == 103846
    assert all(len(entry["sha256"]) == 64 and entry["licence"] and entry["repository"] for entry in CORPUS_FILES)


@pytest.mark.parametrize("entry", CORPUS_FILES, ids=lambda entry: entry["file"].rsplit("/", 1)[-1])
def test_per_file_counts_equal_the_manifest(entry):
    counts = {int(event_id): count for event_id, count in entry["events"].items()}
    stats = ReadStats()
    found = collections.Counter()
    for result in read_paths([corpus_path(*entry["file"].split("/"))], frozenset(counts), stats):
        assert isinstance(result, Event), str(result)
        found[result.event_id] += 1
    assert stats.records == entry["records"]
    assert dict(found) == {event_id: count for event_id, count in counts.items() if count}


def test_every_4658_maps_with_a_numeric_pid_and_a_file_name(corpus_events):
    closes = [event for event in corpus_events if event.event_id == 4658]
    assert len(closes) == 5419
    for event in closes:
        ecs, cim = to_ecs(event), to_cim(event)
        process_name = event.data["ProcessName"]
        assert ecs["process"]["pid"] == int(event.data["ProcessId"], 16) == cim["process_id"]
        assert ecs["process"]["name"] == process_name.rsplit("\\", 1)[-1] == cim["process_name"]
        assert ecs["process"]["executable"] == process_name == cim["process_path"]
        assert ecs["event"]["code"] == "4658" and ecs["event"]["action"] == "handle-closed-object"
        assert ecs["@timestamp"].endswith("Z") and ecs["host"]["name"]


def test_security_account_manager_and_dwm_sid_come_through(corpus_events):
    servers = collections.Counter(e.data.get("ObjectServer") for e in corpus_events if e.event_id == 4658)
    assert set(servers) == {"Security", "Security Account Manager", "SC Manager"}
    sam = next(e for e in corpus_events if e.data.get("ObjectServer") == "Security Account Manager")
    assert to_ecs(sam)["winlog"]["event_data"]["ObjectServer"] == "Security Account Manager"
    assert to_cim(sam)["ObjectServer"] == "Security Account Manager"
    dwm = [e for e in corpus_events if e.data.get("SubjectUserSid") == "S-1-5-90-0-1"]
    assert dwm and all(to_ecs(e)["user"]["id"] == "S-1-5-90-0-1" for e in dwm)


def test_evtx_events_carry_braced_guids_and_microsecond_times(corpus_events):
    evtx = [e for e in corpus_events if e.origin.path.endswith(".evtx")]
    assert evtx and all(to_ecs(e)["winlog"]["provider_guid"] == "{54849625-5478-4994-A5BA-3E3B0328C30D}" for e in evtx)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", to_ecs(e)["@timestamp"]) for e in evtx)


def test_the_short_name_temp_payload_is_read_verbatim(corpus_events):
    names = {e.data["ProcessName"] for e in corpus_events if e.event_id == 4658}
    payload = "C:\\Users\\NORA~1.QUE\\AppData\\Local\\Temp\\RarSFX1\\winx64_payload.exe"
    assert payload in names
    assert basename(payload) == "winx64_payload.exe"
