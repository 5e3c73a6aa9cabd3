"""EVTX chunk checksums: verified by the Rust parser where evtx can (0.14+), by damaged_chunks where it cannot
(0.8.9, the add-on's on Python 3.9). Both routes must give the same events, errors and counts."""

import pytest

from tests.support.paths import CORPUS_FILES, corpus_path
from win4658.event import SUPPORTED_EVENT_IDS, ReadStats
from win4658.readers import evtx, read_paths
from win4658.readers.evtx_file import CHUNK_SIZE, FILE_HEADER_SIZE, damaged_chunks

SAM = ("evtx", "EVTX-to-MITRE-Attack", "ID4661-4658_Mimikatz_sekurlsa_password_dump_SAM.evtx")
CHUNK_2 = FILE_HEADER_SIZE + 2 * CHUNK_SIZE


def _damaged(tmp_path, name, damage):
    with open(corpus_path(*SAM), "rb") as stream:
        data = bytearray(stream.read())
    damage(data)
    path = tmp_path / name
    path.write_bytes(bytes(data))
    return str(path)


def _overwritten(data):
    data[CHUNK_2 + 5000 : CHUNK_2 + 9000] = bytes(4000)


def _one_bit(data):
    data[CHUNK_2 + 3000] ^= 0x01


def _two_chunks(data):
    _one_bit(data)
    data[FILE_HEADER_SIZE + 4 * CHUNK_SIZE + 7000] ^= 0x80


def _truncated(data):
    del data[CHUNK_2 + 1000 :]


def _read(path, stats):
    return [
        (
            type(result).__name__,
            getattr(result, "system", None),
            getattr(result, "data", None),
            getattr(result, "origin", None),
            getattr(result, "message", None),
            getattr(result, "reason", None),
        )
        for result in read_paths([path], SUPPORTED_EVENT_IDS, stats)
    ]


UNPATCHED = evtx.PyEvtxParser


class _UnverifyingParser:
    """The evtx 0.8.9 signature: no validate_checksums keyword."""

    def __init__(self, path):
        self.parser = UNPATCHED(path)

    def records_json(self):
        return self.parser.records_json()


def _both_routes(path, monkeypatch):
    verified_stats, unverified_stats = ReadStats(), ReadStats()
    verified = _read(path, verified_stats)
    monkeypatch.setattr(evtx, "PyEvtxParser", _UnverifyingParser)
    unverified = _read(path, unverified_stats)
    monkeypatch.undo()
    return verified, unverified, verified_stats, unverified_stats


@pytest.mark.parametrize("damage", [_overwritten, _one_bit, _two_chunks, _truncated])
def test_a_damaged_file_reads_the_same_whoever_verifies_the_checksums(tmp_path, monkeypatch, damage):
    path = _damaged(tmp_path, f"{damage.__name__}.evtx", damage)
    verified, unverified, verified_stats, unverified_stats = _both_routes(path, monkeypatch)
    assert verified == unverified
    assert vars_of(verified_stats) == vars_of(unverified_stats)
    assert any(kind == "RecordError" and reason == "damaged" for kind, *_, reason in verified)


def test_a_chunk_refused_for_its_checksum_is_read_alone_and_reported(tmp_path):
    path = _damaged(tmp_path, "one_bit.evtx", _one_bit)
    stats = ReadStats()
    results = _read(path, stats)
    assert stats.records == 186  # every record, the refused chunk's included
    errors = [message for kind, *_, message, reason in results if kind == "RecordError"]
    assert errors == ["EVTX chunk 2: checksum mismatch: records 64-95 are damaged and some were skipped"]
    assert results[-1][-1] == "damaged"  # after the records, as the other chunk problems


def test_the_parser_words_a_checksum_failure_as_this_reader_expects(tmp_path):
    """If a new evtx words it otherwise, the chunk would be lost: this names the change."""
    path = _damaged(tmp_path, "one_bit.evtx", _one_bit)
    with pytest.raises(RuntimeError) as raised:
        for _ in evtx.PyEvtxParser(path, validate_checksums=True).records_json():
            pass
    assert evtx.CHECKSUM_REFUSED.match(str(raised.value)).group(1) == "2"


@pytest.mark.parametrize(
    "relative",
    [entry["file"] for entry in CORPUS_FILES if entry["format"] == "evtx"],
    ids=lambda relative: relative.rsplit("/", 1)[-1],
)
def test_corpus_files_read_the_same_whoever_verifies_the_checksums(relative, monkeypatch):
    path = corpus_path(*relative.split("/"))
    verified, unverified, verified_stats, unverified_stats = _both_routes(path, monkeypatch)
    assert verified == unverified and vars_of(verified_stats) == vars_of(unverified_stats)


def test_only_the_named_chunks_have_their_records_checksum_computed(tmp_path):
    path = _damaged(tmp_path, "one_bit.evtx", _one_bit)
    assert damaged_chunks(path, checksums_to_verify=()) == []
    assert [error.message for error in damaged_chunks(path, checksums_to_verify={2})] == [
        error.message for error in damaged_chunks(path)
    ]


def vars_of(stats):
    return {name: getattr(stats, name) for name in ReadStats.__slots__}
