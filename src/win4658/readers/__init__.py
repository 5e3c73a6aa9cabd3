"""Readers: every input form → a stream of canonical Events (and RecordErrors, in place).

``read_paths`` takes files, directories and archives, sniffs each file's form from its first bytes and
streams it; nothing holds a whole file.
"""
import io
import os
import shutil
import sys
import tarfile
import tempfile
import zipfile
from typing import BinaryIO, Callable, Iterable, Iterator, Optional, Tuple

from ..event import DEFAULT_EVENT_IDS, Origin, ReadResult, ReadStats, RecordError
from .classic import read_classic
from .evtx import EvtxUnavailable, read_evtx
from .jsonlines import read_jsonlines
from .xml import read_xml

__all__ = ["read_paths", "input_files", "read_file", "read_path", "read_stream", "sniff", "ReadStats"]

EVTX_MAGIC = b"ElfFile\x00"
ZIP_MAGIC = b"PK\x03\x04"
GZIP_MAGIC = b"\x1f\x8b"
StreamReader = Callable[[BinaryIO, str, frozenset, ReadStats], Iterator[ReadResult]]


def read_paths(paths: Iterable[str], event_ids: frozenset = DEFAULT_EVENT_IDS,
               stats: Optional[ReadStats] = None, recursive: bool = True) -> Iterator[ReadResult]:
    stats = stats if stats is not None else ReadStats()
    for file_path, in_directory in input_files(paths, recursive):
        yield from read_file(file_path, in_directory, event_ids, stats)


def input_files(paths: Iterable[str], recursive: bool = True) -> Iterator[Tuple[str, bool]]:
    """Each file to read, in order, and whether it was found inside a directory given as a path."""
    for path in paths:
        if os.path.isdir(path):
            for file_path in _walk(path, recursive):
                yield file_path, True
        else:
            yield path, False


def read_file(path: str, in_directory: bool, event_ids: frozenset, stats: ReadStats) -> Iterator[ReadResult]:
    """One file of ``input_files``: as ``read_path``, but a file inside a directory may hold no events."""
    results = read_path(path, event_ids, stats)
    return _tolerate_unrecognised(results) if in_directory else results


def _tolerate_unrecognised(results: Iterator[ReadResult]) -> Iterator[ReadResult]:
    """Inside a directory, a file that holds no events (a README, a manifest) is skipped and counted, not fatal."""
    for result in results:
        if isinstance(result, RecordError) and result.reason == "unrecognised" and result.fatal:
            result = result._replace(reason="not an event file", fatal=False)
        yield result


def _walk(directory: str, recursive: bool) -> Iterator[str]:
    for root, folders, files in os.walk(directory):
        folders.sort()
        for name in sorted(files):
            yield os.path.join(root, name)
        if not recursive:
            return


def read_path(path: str, event_ids: frozenset = DEFAULT_EVENT_IDS, stats: Optional[ReadStats] = None) -> Iterator[ReadResult]:
    stats = stats if stats is not None else ReadStats()
    if path == STDIN:
        yield from read_stdin(event_ids, stats)
        return
    stats.files += 1
    try:
        with open(path, "rb") as stream:
            head = stream.read(8)
            stream.seek(0)
            if head.startswith(EVTX_MAGIC):
                yield from read_evtx(path, event_ids, stats)
            elif head.startswith(ZIP_MAGIC):
                yield from _read_zip(stream, path, event_ids, stats)
            elif head.startswith(GZIP_MAGIC):
                yield from _read_tar(stream, path, event_ids, stats)
            else:
                yield from read_stream(stream, path, event_ids, stats)
    except (OSError, EvtxUnavailable, zipfile.BadZipFile) as error:
        yield RecordError(Origin(path, 0), "unreadable", f"cannot read file: {error}", fatal=True)


STDIN = "-"


def read_stdin(event_ids: frozenset, stats: ReadStats, stdin: Optional[BinaryIO] = None) -> Iterator[ReadResult]:
    """``-``: standard input, sniffed like a file. Text forms and .tar.gz stream; EVTX and .zip need to seek, so
    they are copied to a temporary file first (on disk: memory stays bounded)."""
    source = stdin if stdin is not None else sys.stdin.buffer
    buffered = source if isinstance(source, io.BufferedReader) else io.BufferedReader(source)  # type: ignore[arg-type]
    head = buffered.peek(8)[:8]
    if not head.startswith((EVTX_MAGIC, ZIP_MAGIC)):
        stats.files += 1
        if head.startswith(GZIP_MAGIC):
            yield from _read_tar(buffered, "<stdin>", event_ids, stats)
        else:
            yield from read_stream(buffered, "<stdin>", event_ids, stats)
        return
    with tempfile.TemporaryDirectory(prefix="win4658-stdin-") as directory:
        copy = os.path.join(directory, "stdin.evtx" if head.startswith(EVTX_MAGIC) else "stdin.zip")
        with open(copy, "wb") as target:
            shutil.copyfileobj(buffered, target, 1 << 20)
        for result in read_path(copy, event_ids, stats):
            origin = result.origin._replace(path=result.origin.path.replace(copy, "<stdin>"))
            if isinstance(result, RecordError):
                yield result._replace(origin=origin)
            else:
                result.origin = origin
                yield result


def read_stream(stream: BinaryIO, name: str, event_ids: frozenset, stats: ReadStats) -> Iterator[ReadResult]:
    """A text stream in any of the text forms (XML, JSON-lines, classic WinEventLog)."""
    buffered = stream if isinstance(stream, io.BufferedReader) else io.BufferedReader(stream)  # type: ignore[arg-type]
    reader = sniff(buffered.peek(4096)[:4096])
    if reader is None:
        yield RecordError(Origin(name, 0), "unrecognised", "not EVTX, event XML, JSON-lines or WinEventLog text", fatal=True)
        return
    yield from reader(_utf8(buffered), name, event_ids, stats)


def sniff(head: bytes) -> Optional[StreamReader]:
    text = _decode_head(head).lstrip("\ufeff \t\r\n")
    if text.startswith("{"):
        return read_jsonlines
    if text.startswith("<") or text.startswith("- <"):
        return read_xml
    if "EventCode=" in text or "LogName=" in text:
        return read_classic
    return None


def _decode_head(head: bytes) -> str:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return head.decode("utf-16", "ignore")
    return head.decode("utf-8", "ignore")


def _utf8(stream: io.BufferedReader) -> BinaryIO:
    """UTF-16 exports (wevtutil, PowerShell) are re-encoded on the fly; UTF-8 passes through untouched."""
    if stream.peek(2)[:2] in (b"\xff\xfe", b"\xfe\xff"):
        text = io.TextIOWrapper(stream, encoding="utf-16")
        return _Utf8Encoder(text)  # type: ignore[return-value]
    return stream


class _Utf8Encoder(io.RawIOBase):
    def __init__(self, text: io.TextIOWrapper):
        self.text = text
        self.pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:  # type: ignore[override]
        while len(self.pending) < len(target):
            chunk = self.text.read(65536)
            if not chunk:
                break
            self.pending += chunk.encode("utf-8")
        size = min(len(target), len(self.pending))
        target[:size] = self.pending[:size]
        self.pending = self.pending[size:]
        return size


def _read_zip(stream: BinaryIO, path: str, event_ids: frozenset, stats: ReadStats) -> Iterator[ReadResult]:
    with zipfile.ZipFile(stream) as archive:
        for member in archive.infolist():
            if member.is_dir():
                continue
            with archive.open(member) as member_stream:
                yield from read_stream(member_stream, f"{path}!{member.filename}", event_ids, stats)


def _read_tar(stream: BinaryIO, path: str, event_ids: frozenset, stats: ReadStats) -> Iterator[ReadResult]:
    name = path
    try:
        with tarfile.open(fileobj=stream, mode="r|gz") as archive:
            for member in archive:
                if not member.isfile():
                    continue
                name = f"{path}!{member.name}"
                member_stream = archive.extractfile(member)
                if member_stream is not None:
                    yield from read_stream(member_stream, name, event_ids, stats)
    except (tarfile.TarError, EOFError, OSError) as error:
        yield RecordError(Origin(name, 0), "truncated", f"archive damaged after this member: {error}", fatal=True)
