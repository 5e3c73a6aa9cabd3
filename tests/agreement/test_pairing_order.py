"""Pairing follows the log's own order (DESIGN.md "Pairing order"): every corpus file stored the other way round
gives the same pairs, durations and findings. JSON-lines are reversed line by line; EVTX files are rendered to
event XML (by the evtx parser) and their records reversed."""

import os
import tarfile
import zipfile

import evtx
import pytest

from tests.support.paths import CORPUS_FILES, corpus_path
from win4658.detections.engine import Finding
from win4658.detections.local_hunt import Hunt


def _archive_lines(path):
    if path.endswith(".zip"):
        with zipfile.ZipFile(path) as archive:
            return [line for name in archive.namelist() for line in archive.read(name).splitlines() if line.strip()]
    with tarfile.open(path) as archive:
        return [
            line
            for member in archive
            if member.isfile()
            for line in archive.extractfile(member).read().splitlines()
            if line.strip()
        ]


def _evtx_records_as_xml(path):
    return [record["data"].split("?>", 1)[-1].strip() for record in evtx.PyEvtxParser(path).records()]


def reversed_copy(path, directory):
    """The file's records newest first (EVTX as event XML), written under ``directory``."""
    target = os.path.join(directory, os.path.basename(path))
    if path.endswith(".evtx"):
        records = _evtx_records_as_xml(path)
        assert records, path
        with open(target + ".reversed.xml", "w", encoding="utf-8") as stream:
            stream.write("<Events>\n" + "\n".join(reversed(records)) + "\n</Events>\n")
        return target + ".reversed.xml"
    with open(target + ".reversed.ndjson", "wb") as stream:
        stream.write(b"\n".join(reversed(_archive_lines(path))) + b"\n")
    return target + ".reversed.ndjson"


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
    lines = _archive_lines(original)
    with open(reversed_copy(original, str(tmp_path)), "rb") as stream:
        assert stream.read().splitlines() == lines[::-1]
