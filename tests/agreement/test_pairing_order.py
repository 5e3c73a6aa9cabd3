"""Pairing follows the log's own order (DESIGN.md "Pairing order"): every corpus file stored the other way round
gives the same pairs, durations and findings. JSON-lines are reversed line by line; EVTX files are rendered to
event XML (by the evtx parser) and their records reversed."""

import pytest

from tests.support.paths import CORPUS_FILES, corpus_path
from tests.support.reversed_files import archive_lines, reversed_copy
from win4658.detections.engine import Finding
from win4658.detections.local_hunt import Hunt


def _hunted(path):
    """Every finding (without where it was read) and the pairing counts, of a hunt listing every paired handle."""
    hunt = Hunt(long_handle_seconds=-1)
    findings = sorted(
        repr(finding._replace(origin=None)) for finding in hunt.run([path]) if isinstance(finding, Finding)
    )
    counts = {name: value for name, value in hunt.summary.lifetime.items() if name != "by_process"}
    return findings, counts, hunt.summary.lifetime["by_process"]


@pytest.mark.parametrize("relative", [entry["file"] for entry in CORPUS_FILES])
def test_a_reversed_copy_gives_the_same_pairs_durations_and_findings(relative, tmp_path):
    original = corpus_path(*relative.split("/"))
    findings, counts, by_process = _hunted(original)
    assert _hunted(reversed_copy(original, str(tmp_path))) == (findings, counts, by_process)
    # the lifetime findings (every paired handle, as the threshold is -1) carry each pair's times and duration
    assert sum(1 for finding in findings if "win4658_handle_lifetime" in finding) == counts["paired"]


def test_the_reversed_copies_are_really_reversed(tmp_path):
    original = corpus_path("json", "cmd_lsass_memory_dumpert_syscalls.zip")
    lines = archive_lines(original)
    with open(reversed_copy(original, str(tmp_path)), "rb") as stream:
        assert stream.read().splitlines() == lines[::-1]
