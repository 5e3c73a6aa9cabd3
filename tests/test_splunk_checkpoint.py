"""The modular input's checkpoint store: file identity by head CRC, rename, truncation, growth, atomic saves."""
import json
import os

import pytest

from win4658.splunk.checkpoint import HEAD_BYTES, CheckpointStore, CorruptCheckpoint


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
    matched = {os.path.basename(p): (state.position, how) for p, state, how in store.match([path, str(tmp_path / "log.1")])}
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


@pytest.mark.parametrize("content, reason", [
    ("{not json", "Expecting property name"),
    ('{"version": 2, "files": []}', "unknown checkpoint version 2"),
    ('{"version": 1, "files": [{"path": 1, "head_crc": 1, "head_length": 1, "position": 0, "offset": -1, "size": 0, "mtime": 0}]}',
     "path is 1"),
    ('{"version": 1, "files": [{"path": "p", "head_crc": 1, "head_length": 1, "position": -3, "offset": -1, "size": 0, "mtime": 0}]}',
     "position -3"),
    ('{"version": 1, "files": [{"path": "p"}]}', "a file entry has fields ['path']"),
    ('[]', "'list' object has no attribute 'get'"),
])
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
    assert json.load(open(store.path)) == {"version": 1, "files": []}
