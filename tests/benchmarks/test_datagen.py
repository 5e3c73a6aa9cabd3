"""The benchmark inputs are what they claim: a valid large EVTX of repeated corpus chunks, sampled XML, JSON-lines,
JSON-lines whose handles pair."""

import os
import struct
import sys
import zlib
from collections import Counter

from tests.support.paths import ROOT, corpus_path
from win4658.detections.lifetime import CLOSED, OPEN_AT_END, Lifetime
from win4658.event import SUPPORTED_EVENT_IDS, Event, ReadStats
from win4658.readers import read_paths
from win4658.sessions.stream import ended_handles, session_hunt

sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
import datagen  # noqa: E402

SAM_EVTX = ("evtx", "EVTX-to-MITRE-Attack", "ID4661-4658_Mimikatz_sekurlsa_password_dump_SAM.evtx")


def test_large_evtx_repeats_the_corpus_chunks_with_a_valid_header(tmp_path):
    target = tmp_path / "large.evtx"
    chunk_count = datagen.build_evtx(corpus_path(*SAM_EVTX), str(target), 1 << 20)
    assert chunk_count == 18  # 6 used chunks of the source, 3 times: the first multiple above 1 MiB
    assert target.stat().st_size == 4096 + 18 * 65536
    header = target.read_bytes()[:4096]
    assert struct.unpack_from("<Q", header, 16)[0] == 17  # last chunk number
    assert struct.unpack_from("<H", header, 42)[0] == 18
    assert struct.unpack_from("<I", header, 120)[0] & 1 == 0  # not dirty
    assert struct.unpack_from("<I", header, 124)[0] == zlib.crc32(header[:120])
    stats = ReadStats()
    results = list(read_paths([str(target)], frozenset({4658}), stats))
    assert all(isinstance(result, Event) for result in results)
    assert (len(results), stats.records) == (3 * 77, 3 * 186)


def test_sampled_xml_and_json_lines_read_back_with_corpus_values(tmp_path):
    pool = datagen.corpus_pool(corpus_path())
    assert pool.event_ids == [4656, 4658, 4663, 4690]
    xml, jsonl = str(tmp_path / "events.xml"), str(tmp_path / "events.ndjson")
    assert datagen.write_xml(datagen.sampled_events(pool, 400), xml) == 400
    assert datagen.write_jsonlines(datagen.sampled_events(pool, 400), jsonl) == 400
    with open(xml, "rb") as stream:
        assert sum(1 for _ in stream) == 400  # one event per line, line breaks inside values escaped
    expected = list(datagen.sampled_events(pool, 400))
    for path in (xml, jsonl):
        events = list(read_paths([path], SUPPORTED_EVENT_IDS))
        assert [event.event_id for event in events] == [event.event_id for event in expected]
        assert [event.data for event in events] == [event.data for event in expected]
        for event in events:
            assert all(value in pool.data[event.event_id][name] for name, value in event.data.items())


def test_the_command_line_writes_the_same_events_as_the_functions(tmp_path, capsys):
    corpus_path()
    target = str(tmp_path / "events.jsonl")
    assert datagen.main(["jsonl", "300", target, "--seed", "7"]) == 0
    assert capsys.readouterr().out == f"{target}: 300 events\n"
    expected = list(datagen.sampled_events(datagen.corpus_pool(datagen.CORPUS), 300, seed=7))
    events = list(read_paths([target], SUPPORTED_EVENT_IDS))
    assert [event.data for event in events] == [event.data for event in expected]


def test_paired_events_open_use_and_close_their_handles_as_a_real_log(tmp_path):
    """Every handle of the paired input is opened by a 4656, used by 0-3 4663s of the same handle and closed by one
    4658, in time order: hunt's sessions are all closed but those still open when the input ends."""
    pool = datagen.corpus_pool(corpus_path())
    target = str(tmp_path / "paired.ndjson")
    assert datagen.write_jsonlines(datagen.paired_events(pool, 3000), target) == 3000
    hunt = session_hunt(window=10_000, max_open_handles=50_000)
    endings = Counter(item.ending for item in ended_handles([target], hunt) if isinstance(item, Lifetime))
    opened = sum(1 for event in datagen.paired_events(pool, 3000) if event.event_id == 4656)
    assert endings[CLOSED] + endings[OPEN_AT_END] == opened == sum(endings.values())
    assert 0 < endings[OPEN_AT_END] <= datagen.OPEN_HANDLES
    assert hunt.summary.lifetime["accesses"] == sum(
        1 for event in datagen.paired_events(pool, 3000) if event.event_id == 4663
    )
