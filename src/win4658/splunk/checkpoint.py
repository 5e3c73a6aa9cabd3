"""Per-file reading positions of the modular input, kept like Splunk's file monitor keeps them.

A file is known by the CRC of its first bytes (so a renamed or rotated file is recognised), salted with its
path only when two files share the same head. The position is the number of reader results (events and
record errors, in reading order) already handled; everything up to the last event sent counts, a record
error after it does not (a half-written last line is read again once complete). For a plain UTF-8 text file
(JSON-lines, event XML) the byte offset where the last sent record starts is kept too, so that a file that
grows is read on from there instead of from its start. The whole store is one JSON file, replaced
atomically: written to a temporary file, fsynced, renamed over the old one.
"""
import json
import os
import re
import zlib
from typing import Dict, Iterable, List, Optional, Tuple

HEAD_BYTES = 1024
FORMAT_VERSION = 1


class CorruptCheckpoint(ValueError):
    """The checkpoint file exists but cannot be read as a checkpoint."""


class FileState:
    """What is known about one file: its identity (head CRC over head_length bytes) and how far it was read."""

    __slots__ = ("path", "head_crc", "head_length", "position", "offset", "size", "mtime")

    def __init__(self, path: str, head_crc: int, head_length: int, position: int = 0, offset: int = -1,
                 size: int = 0, mtime: float = 0.0):
        self.path = path
        self.head_crc = head_crc
        self.head_length = head_length
        self.position = position
        self.offset = offset  # byte offset of the last sent record in a plain text file, -1 when not known
        self.size = size
        self.mtime = mtime

    def restart(self) -> None:
        self.position, self.offset = 0, -1

    def as_dict(self) -> dict:
        return {name: getattr(self, name) for name in self.__slots__}

    def unchanged(self, size: int, mtime: float) -> bool:
        return self.size == size and self.mtime == mtime


STATE_TYPES = {"path": (str,), "head_crc": (int,), "head_length": (int,), "position": (int,), "offset": (int,),
               "size": (int,), "mtime": (int, float)}


def _state_from(saved: dict) -> FileState:
    """A FileState from its saved form; ValueError when a field is missing, extra or of the wrong type."""
    if set(saved) != set(STATE_TYPES):
        raise ValueError(f"a file entry has fields {sorted(saved)}, expected {sorted(STATE_TYPES)}")
    for name, types in STATE_TYPES.items():
        if not isinstance(saved[name], types) or isinstance(saved[name], bool):
            raise ValueError(f"a file entry's {name} is {saved[name]!r}")
    if saved["position"] < 0 or saved["offset"] < -1 or saved["head_length"] <= 0:
        raise ValueError(f"a file entry has position {saved['position']} and head_length {saved['head_length']}")
    return FileState(**saved)


def head_crc(path: str, length: int) -> Optional[int]:
    """CRC-32 of the first ``length`` bytes, or None when the file is shorter."""
    with open(path, "rb") as stream:
        head = stream.read(length)
    return zlib.crc32(head) if len(head) == length else None


class CheckpointStore:
    """All FileStates of one input, loaded from and saved to ``<checkpoint_dir>/<input name>.json``."""

    def __init__(self, path: str, states: Optional[List[FileState]] = None):
        self.path = path
        self.states: List[FileState] = states or []

    @classmethod
    def for_input(cls, checkpoint_dir: str, input_name: str) -> "CheckpointStore":
        safe_name = re.sub(r"[^A-Za-z0-9_.-]", "_", input_name)
        return cls(os.path.join(checkpoint_dir, f"{safe_name}.json"))

    def load(self) -> None:
        """Read the store; raises CorruptCheckpoint (and keeps the store empty) when it is not readable."""
        if not os.path.exists(self.path):
            return
        try:
            with open(self.path, encoding="utf-8") as stream:
                document = json.load(stream)
            if document.get("version") != FORMAT_VERSION:
                raise ValueError(f"unknown checkpoint version {document.get('version')!r}")
            self.states = [_state_from(state) for state in document["files"]]
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as error:
            self.states = []
            raise CorruptCheckpoint(f"{self.path}: {error}") from None

    def set_aside(self) -> str:
        """Move an unreadable checkpoint out of the way (kept for inspection); returns its new name."""
        kept = f"{self.path}.corrupt"
        os.replace(self.path, kept)
        return kept

    def save(self) -> None:
        document = {"version": FORMAT_VERSION, "files": [state.as_dict() for state in self.states]}
        temporary = f"{self.path}.tmp"
        with open(temporary, "w", encoding="utf-8") as stream:
            json.dump(document, stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, self.path)
        _fsync_directory(os.path.dirname(self.path) or ".")

    def match(self, paths: Iterable[str]) -> List[Tuple[str, FileState, str]]:
        """(path, state, how) for each (non-empty) file: how is "known", "renamed", "truncated" or "new".

        A state is first offered to the file at its own path, then (rename, rotation) to any file with its head.
        """
        paths = list(paths)
        found: Dict[str, Tuple[FileState, str]] = {}
        unclaimed = list(self.states)
        for same_path_only in (True, False):
            for path in paths:
                if path in found:
                    continue
                candidates = [state for state in unclaimed if state.path == path or not same_path_only]
                result = self._recognise(path, candidates)
                if result is not None:
                    found[path] = result
                    unclaimed.remove(result[0])
        for path in paths:
            if path not in found:
                length = min(os.path.getsize(path), HEAD_BYTES)
                found[path] = (FileState(path, head_crc(path, length) or 0, length), "new")
        self.states = [found[path][0] for path in paths]
        return [(path, *found[path]) for path in paths]

    def _recognise(self, path: str, candidates: List[FileState]) -> Optional[Tuple[FileState, str]]:
        size = os.path.getsize(path)
        for state in candidates:
            if size >= state.head_length and head_crc(path, state.head_length) == state.head_crc:
                how = "known" if state.path == path else "renamed"
                if size < state.size:
                    how = "truncated"
                    state.restart()
                state.path = path
                self._widen_head(state, path, size)
                return state, how
        return None

    @staticmethod
    def _widen_head(state: FileState, path: str, size: int) -> None:
        """A file first seen shorter than HEAD_BYTES gets the longer head once it has grown."""
        length = min(size, HEAD_BYTES)
        if length > state.head_length:
            state.head_crc, state.head_length = head_crc(path, length) or 0, length


def _fsync_directory(directory: str) -> None:
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:  # Windows cannot open a directory; the rename is durable there without it
        return
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
