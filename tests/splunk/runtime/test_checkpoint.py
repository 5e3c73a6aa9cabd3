"""The modular input's checkpoint store: file identity by head CRC (EVTX: by its first records), rename, truncation,
rewriting, growth, atomic owner-only saves, the lock."""

import json
import os
import resource
import stat
import struct
import zlib

import pytest

from tests.support.paths import corpus_path
from tests.support.splunkd import EVTX_SOURCE, evtx_first_chunks
from win4658.splunk.runtime.checkpoint import (
    EVTX_FIRST_RECORD,
    HEAD_BYTES,
    CheckpointStore,
    CorruptCheckpoint,
    FileState,
    InputLock,
)


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return str(path)


def _store(tmp_path):
    return CheckpointStore.for_input(str(tmp_path), "my input/1")


def test_store_file_name_is_safe(tmp_path):
    assert _store(tmp_path).path == str(tmp_path / "my_input_1.json")


def test_saved_states_come_back_and_no_temporary_file_is_left(tmp_path):
    first = _write(tmp_path / "a.json", "x" * 2000)
    store = _store(tmp_path)
    [(path, state, how)] = store.match([first])
    assert (path, how, state.head_length) == (first, "new", HEAD_BYTES)
    state.position, state.size, state.mtime = 7, 2000, 1.5
    store.save()
    assert sorted(os.listdir(tmp_path)) == ["a.json", "my_input_1.json"]
    again = _store(tmp_path)
    again.load()
    [(_path, state, how)] = again.match([first])
    assert (how, state.position, state.size, state.mtime) == ("known", 7, 2000, 1.5)


def test_rename_is_recognised_by_the_head(tmp_path):
    original = _write(tmp_path / "current.log", "y" * 3000)
    store = _store(tmp_path)
    store.match([original])[0][1].position = 5
    renamed = str(tmp_path / "current.log.1")
    os.rename(original, renamed)
    [(path, state, how)] = store.match([renamed])
    assert (path, how, state.position, state.path) == (renamed, "renamed", 5, renamed)


def test_rotation_new_file_at_the_old_path_and_the_old_file_renamed(tmp_path):
    path = _write(tmp_path / "log", "old " * 400)
    store = _store(tmp_path)
    store.match([path])[0][1].position = 9
    os.rename(path, tmp_path / "log.1")
    _write(tmp_path / "log", "new " * 400)
    matched = {
        os.path.basename(p): (state.position, how) for p, state, how in store.match([path, str(tmp_path / "log.1")])
    }
    assert matched == {"log": (0, "new"), "log.1": (9, "renamed")}


def test_a_small_file_that_grows_keeps_its_identity_and_widens_its_head(tmp_path):
    path = _write(tmp_path / "small", "abc")
    store = _store(tmp_path)
    state = store.match([path])[0][1]
    state.position, state.size = 1, 3
    assert state.head_length == 3
    with open(path, "a") as stream:
        stream.write("d" * 5000)
    [(_path, state, how)] = store.match([path])
    assert (how, state.position, state.head_length) == ("known", 1, HEAD_BYTES)


def test_truncation_with_the_same_head_restarts(tmp_path):
    path = _write(tmp_path / "t", "z" * 5000)
    store = _store(tmp_path)
    state = store.match([path])[0][1]
    state.position, state.size = 40, 5000
    _write(tmp_path / "t", "z" * 2000)
    [(_path, state, how)] = store.match([path])
    assert (how, state.position) == ("truncated", 0)


def test_two_files_with_the_same_head_keep_their_own_states(tmp_path):
    first, second = _write(tmp_path / "a", "same" * 300 + "A"), _write(tmp_path / "b", "same" * 300 + "B")
    store = _store(tmp_path)
    for index, (_path, state, _how) in enumerate(store.match([first, second])):
        state.position = index + 10
    positions = {os.path.basename(path): state.position for path, state, _how in store.match([second, first])}
    assert positions == {"a": 10, "b": 11}


@pytest.mark.parametrize(
    "content, reason",
    [
        ("{not json", "Expecting property name"),
        ('{"version": 3, "files": []}', "unknown checkpoint version 3"),
        (
            '{"version": 1, "files": [{"path": 1, "head_crc": 1, "head_length": 1, "position": 0, "offset": -1, '
            '"size": 0, "mtime": 0}]}',
            "path is 1",
        ),
        (
            '{"version": 1, "files": [{"path": "p", "head_crc": 1, "head_length": 1, "position": -3, "offset": -1, '
            '"size": 0, "mtime": 0}]}',
            "position -3",
        ),
        ('{"version": 1, "files": [{"path": "p"}]}', "a file entry has fields ['path']"),
        ("[]", "'list' object has no attribute 'get'"),
    ],
)
def test_a_corrupt_checkpoint_is_refused_and_can_be_set_aside(tmp_path, content, reason):
    store = _store(tmp_path)
    _write(tmp_path / "my_input_1.json", content)
    with pytest.raises(CorruptCheckpoint, match=reason.replace("[", r"\[").replace("]", r"\]")):
        store.load()
    assert store.states == []
    kept = store.set_aside()
    assert kept.endswith("my_input_1.json.corrupt") and not os.path.exists(store.path)
    assert open(kept).read() == content


def test_saving_replaces_the_whole_file(tmp_path):
    store = _store(tmp_path)
    store.save()
    assert json.load(open(store.path)) == {"version": 2, "files": []}


def test_a_version_1_checkpoint_is_read_and_its_files_continued(tmp_path):
    path = _write(tmp_path / "a.json", "v" * 3000)
    saved = {
        "path": path,
        "head_crc": zlib.crc32(b"v" * HEAD_BYTES),
        "head_length": HEAD_BYTES,
        "position": 12,
        "offset": 2000,
        "size": 3000,
        "mtime": 1.5,
    }
    _write(tmp_path / "my_input_1.json", json.dumps({"version": 1, "files": [saved]}))
    store = _store(tmp_path)
    store.load()
    [(_path, state, how)] = store.match([path])
    assert (how, state.position, state.offset, state.mark_end) == ("known", 12, 2000, 0)


def _evtx(chunks):
    full = open(corpus_path(*EVTX_SOURCE), "rb").read()
    return full if chunks is None else evtx_first_chunks(full, chunks)


def test_an_evtx_is_known_by_its_first_records_as_its_header_changes(tmp_path):
    path = tmp_path / "Security.evtx"
    path.write_bytes(_evtx(1))
    store = _store(tmp_path)
    [(_path, state, how)] = store.match([str(path)])
    assert (how, state.head_offset, state.head_length, state.is_evtx) == ("new", EVTX_FIRST_RECORD, HEAD_BYTES, True)
    state.position = 12
    for grown in (_evtx(3), _evtx(None)):
        path.write_bytes(grown)
        [(_path, state, how)] = store.match([str(path)])
        assert (how, state.position) == ("known", 12)
    renamed = tmp_path / "Archive-Security.evtx"
    path.rename(renamed)
    [(_path, state, how)] = store.match([str(renamed)])
    assert (how, state.position) == ("renamed", 12)


def test_an_evtx_whose_first_chunk_fills_keeps_its_identity(tmp_path):
    full = bytearray(_evtx(1))
    written = 700  # the chunk's first record, and the start of the second, written so far
    early = bytearray(full)
    struct.pack_into("<I", early, EVTX_FIRST_RECORD - 512 + 48, 512 + written)  # the chunk's free space offset
    early[EVTX_FIRST_RECORD + written :] = bytes(len(early) - EVTX_FIRST_RECORD - written)
    path = tmp_path / "Security.evtx"
    path.write_bytes(early)
    store = _store(tmp_path)
    [(_path, state, how)] = store.match([str(path)])
    assert (how, state.head_offset, state.head_length) == ("new", EVTX_FIRST_RECORD, written)
    state.position = 2
    path.write_bytes(full)
    [(_path, state, how)] = store.match([str(path)])
    assert (how, state.position, state.head_length) == ("known", 2, HEAD_BYTES)


def test_an_evtx_saved_by_version_1_is_rebased_on_its_records(tmp_path):
    path = tmp_path / "Security.evtx"
    path.write_bytes(_evtx(1))
    store = CheckpointStore(
        str(tmp_path / "old.json"), [FileState(str(path), zlib.crc32(_evtx(1)[:HEAD_BYTES]), HEAD_BYTES, position=12)]
    )
    [(_path, state, how)] = store.match([str(path)])
    assert (how, state.position, state.head_offset) == ("known", 12, EVTX_FIRST_RECORD)
    path.write_bytes(_evtx(3))
    assert store.match([str(path)])[0][2] == "known"


def test_bytes_changed_before_the_mark_mean_rewritten(tmp_path):
    head, middle = "h" * HEAD_BYTES, "m" * 4000
    path = _write(tmp_path / "t.json", head + middle)
    store = _store(tmp_path)
    state = store.match([path])[0][1]
    state.position, state.size = 30, 5024
    state.set_mark(path, 4500)
    _write(tmp_path / "t.json", head + middle + "appended")
    assert store.match([path])[0][2] == "known"
    _write(tmp_path / "t.json", head + middle[:3000] + "M" + middle[3001:] + "and longer")  # same head, longer
    [(_path, state, how)] = store.match([path])
    assert (how, state.position, state.mark_end, state.size) == ("rewritten", 0, 0, 0)


def test_a_file_shorter_than_its_mark_is_truncated(tmp_path):
    path = _write(tmp_path / "t.json", "z" * 5000)
    store = _store(tmp_path)
    state = store.match([path])[0][1]
    state.position = 40
    state.set_mark(path, 4000)
    _write(tmp_path / "t.json", "z" * 3000)
    assert store.match([path])[0][2] == "truncated"


def test_the_store_and_its_lock_are_the_owners_only(tmp_path):
    old_umask = os.umask(0)
    try:
        store = _store(tmp_path)
        store.save()
        lock = InputLock(store)
        assert lock.try_acquire()
    finally:
        os.umask(old_umask)
    lock.release()
    assert {name: stat.S_IMODE(os.stat(tmp_path / name).st_mode) for name in os.listdir(tmp_path)} == {
        "my_input_1.json": 0o600,
        "my_input_1.lock": 0o600,
    }


def test_the_lock_is_exclusive_until_released(tmp_path):
    store = _store(tmp_path)
    first, second = InputLock(store), InputLock(store)
    assert first.try_acquire()
    assert not second.try_acquire()
    first.release()
    assert second.try_acquire()
    second.release()


def test_a_save_that_cannot_be_written_raises_and_leaves_nothing(tmp_path):
    store = _store(tmp_path)
    store.states = [FileState(str(tmp_path / "f"), 1, 1)]
    store.save()
    before = open(store.path).read()
    store.states[0].position = 10**12
    limits = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (len(before), limits[1]))  # a full disk: the file cannot grow
    try:
        with pytest.raises(OSError, match="File too large"):
            store.save()
        with pytest.raises(OSError, match="File too large"):
            store.save(room=True)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limits)
    assert os.listdir(tmp_path) == ["my_input_1.json"] and open(store.path).read() == before


def test_temporary_files_left_by_a_killed_run_are_removed(tmp_path):
    store = _store(tmp_path)
    for leftover in ("my_input_1.json.tmp", "my_input_1.json.k3j2_x.tmp"):
        _write(tmp_path / leftover, "{")
    _write(tmp_path / "other.json.tmp", "{")
    store.remove_temporary_files()
    assert sorted(os.listdir(tmp_path)) == ["other.json.tmp"]
