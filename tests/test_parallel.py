"""convert in worker processes (parallel.py) gives exactly what one process gives: the same documents in each file's
order and the same counts; a failing worker, a closed output and a bad worker count are reported."""

import queue
import subprocess
import sys
import threading

import orjson
import pytest

from tests.support.paths import SAMPLE_XML, corpus_inputs, corpus_path
from win4658 import parallel
from win4658.cli.common import ndjson_line
from win4658.convert import Summary, convert
from win4658.event import SUPPORTED_EVENT_IDS
from win4658.parallel import WorkerFailed, Written, convert_in_workers


def _sequential(paths, event_ids=SUPPORTED_EVENT_IDS):
    summary = Summary()
    documents = [orjson.dumps(item) for item in convert(paths, "ecs", event_ids, summary) if isinstance(item, dict)]
    return documents, summary


def _in_workers(paths, output, workers=2, target="ecs", event_ids=SUPPORTED_EVENT_IDS):
    """The documents the workers appended to ``output`` (after what it held), checked against what they reported."""
    summary = Summary()
    output.touch()
    before = output.read_bytes()
    converted = convert_in_workers(paths, str(output), ndjson_line, workers, target, event_ids, summary)
    reported = [item for item in converted if isinstance(item, Written)]
    written = output.read_bytes()
    assert written.startswith(before)
    documents = written[len(before) :].splitlines()
    assert sum(item.documents for item in reported) == len(documents)
    return documents, summary


def test_workers_convert_the_corpus_like_one_process(tmp_path):
    corpus = corpus_inputs(tmp_path)
    expected, expected_summary = _sequential(corpus)
    documents, summary = _in_workers(corpus, tmp_path / "out.ndjson")
    assert sorted(documents) == sorted(expected)
    assert len(documents) == summary.converted == 12547
    assert (
        summary.lines()
        == expected_summary.lines()
        == [
            "files: 15, records read: 103846, converted: 12547",
            "skipped: not an event file: 1, other event id: 91299",
        ]
    )


def test_workers_keep_each_files_order(tmp_path):
    path = corpus_path("json", "empire_persistence_registry_modification_run_keys_standard_user.zip")
    expected, _ = _sequential([path])
    output = tmp_path / "out.ndjson"
    output.write_bytes(b"kept\n")
    documents, _ = _in_workers([path, SAMPLE_XML], output)
    assert [document for document in documents if document in set(expected)] == expected
    assert len(documents) == len(expected) + 1


def test_a_workers_sink_writes_whole_lines_in_order_and_counts_them(tmp_path, monkeypatch):
    monkeypatch.setattr(parallel, "BUFFER_BYTES", 10)
    output, results = tmp_path / "out.ndjson", queue.Queue()
    output.write_bytes(b"kept\n")
    lines = [b"aaaa\n", b"bbbb\n", b"c\n", b"a line longer than the buffer\n", b"dd\n", b"0123456789\n"]
    sink = parallel._Sink(str(output), threading.Lock(), results)
    for line in lines:
        sink.add(line)
    sink.flush()
    sink.close()
    assert output.read_bytes() == b"kept\n" + b"".join(lines)
    written = [results.get_nowait() for _ in range(results.qsize())]
    # a write when the next line would not fit, a line longer than the buffer alone, the rest at the end
    assert written == [
        ("written", Written(2)),
        ("written", Written(1)),
        ("written", Written(1)),
        ("written", Written(1)),
        ("written", Written(1)),
    ]


def test_a_failing_worker_is_reported_with_its_traceback(tmp_path):
    with pytest.raises(WorkerFailed, match="KeyError: 'no-such-target'"):
        _in_workers([SAMPLE_XML], tmp_path / "out.ndjson", target="no-such-target")


def test_convert_cli_with_workers(tmp_path):
    corpus = corpus_inputs(tmp_path)
    outputs = {}
    for workers in ("1", "2"):
        output = tmp_path / f"{workers}.ndjson"
        command = [sys.executable, "-m", "win4658", "convert", "--workers", workers, "-o", str(output), *corpus]
        result = subprocess.run(command, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        assert "files: 15, records read: 103846, converted: 5419" in result.stderr
        outputs[workers] = sorted(output.read_bytes().splitlines())
    assert outputs["1"] == outputs["2"] and len(outputs["2"]) == 5419


def test_convert_cli_with_workers_to_standard_output(tmp_path):
    corpus = corpus_inputs(tmp_path)
    results = {
        workers: subprocess.run(
            [sys.executable, "-m", "win4658", "convert", "--workers", workers, *corpus],
            capture_output=True,
            timeout=300,
        )
        for workers in ("1", "2")
    }
    for result in results.values():
        assert result.returncode == 0, result.stderr
        assert b"files: 15, records read: 103846, converted: 5419" in result.stderr
    lines = {workers: sorted(result.stdout.splitlines()) for workers, result in results.items()}
    assert lines["1"] == lines["2"] and len(lines["2"]) == 5419


def test_workers_stop_quietly_when_the_output_is_closed():
    process = subprocess.Popen(
        [sys.executable, "-m", "win4658", "convert", "--workers", "2", corpus_path()],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout.read(100)
    process.stdout.close()
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=300) == 1
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr


def test_workers_must_be_positive():
    result = subprocess.run(
        [sys.executable, "-m", "win4658", "convert", "--workers", "0", SAMPLE_XML],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "expected a whole number of at least 1, got '0'" in result.stderr
