"""Per-file reading positions of the modular input, kept like Splunk's file monitor keeps them.

A file is known by the CRC of its first bytes (so a renamed or rotated file is recognised), salted with its
path only when two files share the same head. For an EVTX file those are the first bytes of its first chunk's
records: its file header and chunk headers change as the log grows, its written records do not.
The position is the number of reader results (events and record errors, in reading order) already handled;
everything up to the last event sent counts, a record error after it does not (a half-written last line is read
again once complete). For a plain UTF-8 text file (JSON-lines, event XML) the byte offset where the last sent
record starts is kept too, so that a file that grows is read on from there instead of from its start.
Like the file monitor's seek CRC, the CRC of the bytes just before where reading got to (the last sent record's
offset in a text file, the end of any other file but EVTX) tells a file that only grew from one truncated or
rewritten since: that one is read again from its start, so records may be sent twice but are never skipped.
The whole store is one JSON file, replaced atomically: written to a temporary file of its own name, fsynced,
renamed over the old one. Every file here is the owner's only; a lock file keeps a second instance of the input
from reading at the same time.
"""

import glob
import json
import os
import re
import struct
import tempfile
import zlib
from typing import Collection, Dict, Iterable, List, Optional, Tuple

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]
    import msvcrt

HEAD_BYTES = 1024
MARK_BYTES = 1024
FORMAT_VERSION = 2
EVTX_SIGNATURE, EVTX_CHUNK_SIGNATURE = b"ElfFile\x00", b"ElfChnk\x00"
EVTX_FIRST_CHUNK, EVTX_CHUNK_HEADER = 4096, 512
EVTX_FIRST_RECORD = EVTX_FIRST_CHUNK + EVTX_CHUNK_HEADER
EVTX_FREE_SPACE_FIELD = 48  # in the chunk header: where the chunk's written records end
ROOM_PER_FILE = 128  # bytes a file's saved state may grow by while it is read (longer numbers)


class CorruptCheckpoint(ValueError):
    """The checkpoint file exists but cannot be read as a checkpoint."""


class FileState:
    """What is known about one file: its identity (CRC of head_length bytes from head_offset), how far it was read,
    and the mark (CRC of the bytes before mark_end, 0 when there is none) that tells it was not rewritten since."""

    __slots__ = (
        "path",
        "head_crc",
        "head_length",
        "position",
        "offset",
        "size",
        "mtime",
        "head_offset",
        "mark_end",
        "mark_crc",
    )

    def __init__(
        self,
        path: str,
        head_crc: int,
        head_length: int,
        position: int = 0,
        offset: int = -1,
        size: int = 0,
        mtime: float = 0.0,
        head_offset: int = 0,
        mark_end: int = 0,
        mark_crc: int = 0,
    ):
        self.path = path
        self.head_crc = head_crc
        self.head_length = head_length
        self.position = position
        self.offset = offset  # byte offset of the last sent record in a plain text file, -1 when not known
        self.size = size
        self.mtime = mtime
        self.head_offset = head_offset
        self.mark_end = mark_end
        self.mark_crc = mark_crc

    def restart(self) -> None:
        self.position, self.offset, self.size, self.mtime, self.mark_end, self.mark_crc = 0, -1, 0, 0.0, 0, 0

    def as_dict(self) -> dict:
        return {name: getattr(self, name) for name in self.__slots__}

    def unchanged(self, size: int, mtime: float) -> bool:
        return self.size == size and self.mtime == mtime

    @property
    def is_evtx(self) -> bool:
        return self.head_offset == EVTX_FIRST_RECORD

    def set_mark(self, path: str, end: int) -> None:
        """Remember the bytes before ``end`` (where reading got to) as they are now."""
        length = min(end, MARK_BYTES)
        crc = _crc_at(path, end - length, length) if end > 0 else None
        self.mark_end, self.mark_crc = (0, 0) if crc is None else (end, crc)

    def mark_holds(self, path: str) -> bool:
        """False when the bytes before the mark changed or are gone: the file was truncated or rewritten."""
        length = min(self.mark_end, MARK_BYTES)
        return self.mark_end == 0 or _crc_at(path, self.mark_end - length, length) == self.mark_crc


STATE_TYPES = {
    "path": (str,),
    "head_crc": (int,),
    "head_length": (int,),
    "position": (int,),
    "offset": (int,),
    "size": (int,),
    "mtime": (int, float),
    "head_offset": (int,),
    "mark_end": (int,),
    "mark_crc": (int,),
}
FIELDS_OF_VERSION = {1: set(STATE_TYPES) - {"head_offset", "mark_end", "mark_crc"}, 2: set(STATE_TYPES)}


def _state_from(saved: dict, version: int) -> FileState:
    """A FileState from its saved form; ValueError when a field is missing, extra or of the wrong type."""
    if set(saved) != FIELDS_OF_VERSION[version]:
        raise ValueError(f"a file entry has fields {sorted(saved)}, expected {sorted(FIELDS_OF_VERSION[version])}")
    for name in saved:
        if not isinstance(saved[name], STATE_TYPES[name]) or isinstance(saved[name], bool):
            raise ValueError(f"a file entry's {name} is {saved[name]!r}")
    if saved["position"] < 0 or saved["offset"] < -1 or saved["head_length"] <= 0 or saved.get("mark_end", 0) < 0:
        raise ValueError(f"a file entry has position {saved['position']} and head_length {saved['head_length']}")
    return FileState(**saved)


def _crc_at(path: str, start: int, length: int) -> Optional[int]:
    """CRC-32 of the ``length`` bytes at ``start``, or None when the file is shorter."""
    with open(path, "rb") as stream:
        stream.seek(start)
        data = stream.read(length)
    return zlib.crc32(data) if len(data) == length else None


def identity_window(path: str) -> Tuple[int, int]:
    """(start, length) of the bytes that identify the file: the whole file, or an EVTX file's written records."""
    with open(path, "rb") as stream:
        size = os.fstat(stream.fileno()).st_size
        if stream.read(len(EVTX_SIGNATURE)) != EVTX_SIGNATURE:
            return 0, size
        stream.seek(EVTX_FIRST_CHUNK)
        chunk_header = stream.read(EVTX_CHUNK_HEADER)
    if len(chunk_header) < EVTX_CHUNK_HEADER or not chunk_header.startswith(EVTX_CHUNK_SIGNATURE):
        return 0, size
    free_space = struct.unpack_from("<I", chunk_header, EVTX_FREE_SPACE_FIELD)[0]
    written = min(free_space - EVTX_CHUNK_HEADER, size - EVTX_FIRST_RECORD)
    return (EVTX_FIRST_RECORD, written) if written > 0 else (0, size)


class CheckpointStore:
    """All FileStates of one input, loaded from and saved to ``<checkpoint_dir>/<input name>.json``."""

    def __init__(self, path: str, states: Optional[List[FileState]] = None):
        self.path = path
        self.states: List[FileState] = states or []

    @classmethod
    def for_input(cls, checkpoint_dir: str, input_name: str) -> "CheckpointStore":
        safe_name = re.sub(r"[^A-Za-z0-9_.-]", "_", input_name)
        return cls(os.path.join(checkpoint_dir, f"{safe_name}.json"))

    @property
    def directory(self) -> str:
        return os.path.dirname(self.path) or "."

    def load(self) -> None:
        """Read the store; raises CorruptCheckpoint (and keeps the store empty) when it is not readable."""
        if not os.path.exists(self.path):
            return
        try:
            with open(self.path, encoding="utf-8") as stream:
                document = json.load(stream)
            version = document.get("version")
            if version not in FIELDS_OF_VERSION:
                raise ValueError(f"unknown checkpoint version {version!r}")
            self.states = [_state_from(state, version) for state in document["files"]]
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as error:
            self.states = []
            raise CorruptCheckpoint(f"{self.path}: {error}") from None

    def set_aside(self) -> str:
        """Move an unreadable checkpoint out of the way (kept for inspection); returns its new name."""
        kept = f"{self.path}.corrupt"
        os.replace(self.path, kept)
        return kept

    def remove_temporary_files(self) -> None:
        """Temporary files a killed run left behind (call it while holding the lock)."""
        for leftover in glob.glob(f"{glob.escape(self.path)}.*tmp"):
            os.remove(leftover)

    def save(self, room: bool = False) -> None:
        """Replace the store (owner-only) atomically; OSError when it cannot be written, and then nothing is left
        behind. With ``room``, trailing blanks prove there is space for every state's numbers to grow."""
        text = json.dumps({"version": FORMAT_VERSION, "files": [state.as_dict() for state in self.states]})
        descriptor, temporary = tempfile.mkstemp(
            prefix=f"{os.path.basename(self.path)}.", suffix=".tmp", dir=self.directory
        )
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
                stream.write(text + (" " * ROOM_PER_FILE * len(self.states) if room else ""))
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, self.path)
        except OSError:
            _remove_quietly(temporary)
            raise
        _fsync_directory(self.directory)

    def match(self, paths: Iterable[str], keep: Collection[str] = ()) -> List[Tuple[str, FileState, str]]:
        """(path, state, how) for each (non-empty) file: how is "known", "renamed", "truncated", "rewritten" or
        "new". A state is first offered to the file at its own path, then (rename, rotation) to any file with its
        head. The states of files not given are forgotten, but for the paths in ``keep`` (unreadable for now)."""
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
                state = FileState(path, 0, 0)
                _rebase_head(state, path)
                found[path] = (state, "new")
        self.states = [found[path][0] for path in paths] + [state for state in unclaimed if state.path in keep]
        return [(path, *found[path]) for path in paths]

    @staticmethod
    def _recognise(path: str, candidates: List[FileState]) -> Optional[Tuple[FileState, str]]:
        size = os.path.getsize(path)
        for state in candidates:
            if _crc_at(path, state.head_offset, state.head_length) == state.head_crc:
                how = "known" if state.path == path else "renamed"
                if size < state.size or size < state.mark_end:
                    how = "truncated"
                elif not state.mark_holds(path):
                    how = "rewritten"
                if how in ("truncated", "rewritten"):
                    state.restart()
                state.path = path
                _rebase_head(state, path)
                return state, how
        return None


def _rebase_head(state: FileState, path: str) -> None:
    """Identify the file by its current window: wider once a file first seen short has grown, and from an EVTX
    file's records once it has some (a state saved by an earlier version hashed its header)."""
    start, available = identity_window(path)
    length = min(available, HEAD_BYTES)
    if start != state.head_offset or length > state.head_length:
        state.head_offset, state.head_length = start, length
        state.head_crc = _crc_at(path, start, length) or 0


class InputLock:
    """An exclusive lock on ``<checkpoint_dir>/<input name>.lock`` (fcntl, or msvcrt on Windows), held while one
    instance of the input reads; released when the process ends, however it ends."""

    def __init__(self, store: CheckpointStore):
        self.path = os.path.splitext(store.path)[0] + ".lock"
        self.descriptor: Optional[int] = None

    def try_acquire(self) -> bool:
        """True when taken; False when another process holds it; OSError when the lock file cannot be written."""
        descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            os.chmod(self.path, 0o600)
            locked = _try_lock(descriptor)
        except OSError:
            os.close(descriptor)
            raise
        if locked:
            self.descriptor = descriptor
        else:
            os.close(descriptor)
        return locked

    def release(self) -> None:
        if self.descriptor is not None:
            os.close(self.descriptor)
            self.descriptor = None


def _try_lock(descriptor: int) -> bool:
    """Lock the file without waiting; False when another process holds it."""
    if fcntl is None:
        try:
            msvcrt.locking(descriptor, msvcrt.LK_NBLCK, 1)
        except OSError:  # msvcrt reports a lock held elsewhere as EACCES or EDEADLOCK
            return False
        return True
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def make_private_directory(directory: str) -> None:
    """Create the checkpoint directory (owner-only) when splunkd has not."""
    os.makedirs(directory, mode=0o700, exist_ok=True)


def _remove_quietly(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


def _fsync_directory(directory: str) -> None:
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:  # Windows cannot open a directory; the rename is durable there without it
        return
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
