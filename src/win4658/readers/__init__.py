"""Readers: every input form → a stream of canonical Events (and RecordErrors, in place).

``read_paths`` takes files, directories and archives, sniffs each file's form from its first bytes and
streams it; nothing holds a whole file.
"""

import codecs
import io
import lzma
import os
import re
import shutil
import stat
import sys
import tarfile
import tempfile
import zipfile
import zlib
from typing import IO, BinaryIO, Callable, Dict, Iterable, Iterator, List, NamedTuple, Optional, Tuple

from ..event import DEFAULT_EVENT_IDS, MAX_RECORD_BYTES, Origin, ReadResult, ReadStats, RecordError
from .classic import read_classic
from .evtx import EvtxUnavailable, read_evtx
from .jsonlines import read_jsonlines
from .xml import read_xml

__all__ = [
    "read_paths",
    "input_files",
    "file_identity",
    "InputFile",
    "read_file",
    "read_path",
    "read_stream",
    "sniff",
    "ReadStats",
]

EVTX_MAGIC = b"ElfFile\x00"
ZIP_MAGIC = b"PK\x03\x04"
GZIP_MAGIC = b"\x1f\x8b"
UTF8_BOM = codecs.BOM_UTF8
# UTF-32-LE's BOM before UTF-16-LE's, which starts it
UNICODE_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# The encoding an XML declaration names (after a UTF-8 BOM, the text is UTF-8 whatever it declares)
XML_DECLARED_ENCODING = re.compile(rb"""\s*<\?xml\s[^>]*?\bencoding\s*=\s*["']([^"'>]{1,40})["']""")
# An archive expands to at most this many times its own size (the corpus's zips: 14-48x), and never past
# MAX_EXPANDED_BYTES; a small archive may always expand to MAX_RECORD_BYTES.
MAX_EXPANSION_RATIO = 200
MAX_EXPANDED_BYTES = 16 << 30
# An EVTX inside an archive is read from a temporary copy: in memory up to this size, in a deleted file beyond
EVTX_IN_MEMORY_BYTES = 64 << 20
# What a damaged or unsupported archive member raises while it is read
MEMBER_ERRORS = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, OSError, NotImplementedError, RuntimeError)
# Non-regular files, by what a directory walk or a path may hold: skipped, never opened (a FIFO blocks forever)
SPECIAL_FILES = (
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISLNK, "a symbolic link"),
)
# The same kinds as archives list them: tar member types (zip members carry a Unix mode, see _zip_member_kind)
TAR_SPECIAL_TYPES = {
    tarfile.FIFOTYPE: "a FIFO",
    tarfile.CHRTYPE: "a character device",
    tarfile.BLKTYPE: "a block device",
    tarfile.SYMTYPE: "a symbolic link",
    tarfile.LNKTYPE: "a hard link",
}
StreamReader = Callable[..., Iterator[ReadResult]]  # (stream, name, event_ids, stats, offset of its first byte)


class InputFile(NamedTuple):
    """One file to read; ``problem``: why it is not (a directory of the walk that could not be listed; ``reason``
    then says which), or None."""

    path: str
    in_directory: bool
    problem: Optional[str] = None
    reason: str = "unreadable"


def read_paths(
    paths: Iterable[str],
    event_ids: frozenset = DEFAULT_EVENT_IDS,
    stats: Optional[ReadStats] = None,
    recursive: bool = True,
) -> Iterator[ReadResult]:
    stats = stats if stats is not None else ReadStats()
    for item in input_files(paths, recursive):
        yield from read_file(item, event_ids, stats)


def input_files(paths: Iterable[str], recursive: bool = True) -> Iterator[InputFile]:
    """Each file to read, in order, and whether it was found inside a directory given as a path. A file met again
    (a directory given twice, or a file also inside a directory given) is read once: again, it is counted."""
    first_paths: Dict[tuple, str] = {}
    for item in _given_files(paths, recursive):
        identity = file_identity(item.path) if item.problem is None else None
        if identity is None:
            yield item
        elif identity in first_paths:
            yield item._replace(
                problem=f"read already (as {first_paths[identity]}): not read again", reason="read already"
            )
        else:
            first_paths[identity] = item.path
            yield item


def _given_files(paths: Iterable[str], recursive: bool) -> Iterator[InputFile]:
    for path in paths:
        if os.path.isdir(path):
            yield from _walk(path, recursive)
        else:
            yield InputFile(path, False)


def file_identity(path: str) -> Optional[tuple]:
    """What makes two paths the same regular file (device and inode), None for anything else (a FIFO, stdin)."""
    try:
        status = os.stat(path)
    except (OSError, ValueError):
        return None
    return (status.st_dev, status.st_ino) if stat.S_ISREG(status.st_mode) else None


def read_file(item: InputFile, event_ids: frozenset, stats: ReadStats) -> Iterator[ReadResult]:
    """One file of ``input_files``: as ``read_path``, but a file inside a directory may hold no events."""
    if item.problem is not None:
        return iter([RecordError(Origin(item.path, 0), item.reason, item.problem, fatal=item.reason == "unreadable")])
    results = read_path(item.path, event_ids, stats)
    return _tolerate_unrecognised(results) if item.in_directory else results


def _tolerate_unrecognised(results: Iterator[ReadResult]) -> Iterator[ReadResult]:
    """Inside a directory or an archive, a file that holds no events (a README, a manifest) or is not a regular file
    (a FIFO, a socket) is skipped and counted, not fatal."""
    for result in results:
        if isinstance(result, RecordError) and result.fatal and result.reason in ("unrecognised", "not a regular file"):
            result = result._replace(
                reason="not an event file" if result.reason == "unrecognised" else result.reason, fatal=False
            )
        yield result


def _walk(directory: str, recursive: bool) -> Iterator[InputFile]:
    unlisted: List[OSError] = []
    for root, folders, files in os.walk(directory, onerror=unlisted.append):
        yield from _unlisted(unlisted, directory)
        folders.sort()
        for name in sorted(files):
            yield InputFile(os.path.join(root, name), True)
        if not recursive:
            return
    yield from _unlisted(unlisted, directory)


def _unlisted(errors: List[OSError], directory: str) -> Iterator[InputFile]:
    while errors:
        error = errors.pop(0)
        yield InputFile(
            error.filename or directory,
            True,
            f"cannot list directory: {error.strerror or error}; its files are not read",
        )


def read_path(
    path: str, event_ids: frozenset = DEFAULT_EVENT_IDS, stats: Optional[ReadStats] = None
) -> Iterator[ReadResult]:
    stats = stats if stats is not None else ReadStats()
    if path == STDIN:
        yield from read_stdin(event_ids, stats)
        return
    stats.files += 1
    try:
        special = _special_file(os.stat(path).st_mode)
        if special is not None:
            yield RecordError(Origin(path, 0), "not a regular file", f"{special}: skipped, not opened", fatal=True)
            return
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
    """``-``: standard input, sniffed like a file. Text forms stream; EVTX and archives are copied to a temporary
    file first (on disk: memory stays bounded), as EVTX and .zip need to seek and an archive's expansion is bounded
    by its size."""
    source = stdin if stdin is not None else sys.stdin.buffer
    buffered: io.BufferedReader = source if isinstance(source, io.BufferedReader) else io.BufferedReader(source)  # type: ignore[arg-type]  # IO[bytes] declares no readinto; every stream given has it
    head = buffered.peek(8)[:8]
    if not head.startswith((EVTX_MAGIC, ZIP_MAGIC, GZIP_MAGIC)):
        stats.files += 1
        yield from read_stream(buffered, "<stdin>", event_ids, stats)
        return
    with tempfile.TemporaryDirectory(prefix="win4658-stdin-") as directory:
        copy = os.path.join(directory, "stdin")
        with open(copy, "wb") as target:
            shutil.copyfileobj(buffered, target, 1 << 20)
        for result in read_path(copy, event_ids, stats):
            origin = result.origin._replace(path=result.origin.path.replace(copy, "<stdin>"))
            if isinstance(result, RecordError):
                yield result._replace(origin=origin)
            else:
                result.origin = origin
                yield result


def _special_file(mode: int) -> Optional[str]:
    return next((kind for test, kind in SPECIAL_FILES if test(mode)), None)


def read_stream(stream: IO[bytes], name: str, event_ids: frozenset, stats: ReadStats) -> Iterator[ReadResult]:
    """A stream in any of the forms but archives (XML, JSON-lines, WinEventLog text in UTF-8 or UTF-16; EVTX)."""
    buffered: io.BufferedReader = stream if isinstance(stream, io.BufferedReader) else io.BufferedReader(stream)  # type: ignore[arg-type]  # IO[bytes] declares no readinto; every stream given has it
    head = buffered.peek(4096)[:4096]
    if head.startswith(EVTX_MAGIC):
        yield from _read_evtx_stream(buffered, name, event_ids, stats)
        return
    if head.startswith((ZIP_MAGIC, GZIP_MAGIC)):
        yield RecordError(
            Origin(name, 0), "unreadable", "an archive inside an archive is not read: extract it first", fatal=True
        )
        return
    try:
        encoding, bom = _unicode_encoding(head) or (_declared_encoding(head), b"")
    except LookupError as error:
        yield RecordError(Origin(name, 0), "unreadable", f"{error}: not read", fatal=True)
        return
    reader = sniff(head.decode(encoding, "ignore") if encoding else head)
    if reader is None:
        yield RecordError(
            Origin(name, 0), "unrecognised", "not EVTX, event XML, JSON-lines or WinEventLog text", fatal=True
        )
        return
    if encoding is not None:
        buffered.read(len(bom))
        yield from _read_transcoded(buffered, encoding, len(bom), reader, name, event_ids, stats)
        return
    start = len(UTF8_BOM) if head.startswith(UTF8_BOM) else 0
    buffered.read(start)
    yield from reader(buffered, name, event_ids, stats, start)


def sniff(head: object) -> Optional[StreamReader]:
    """The reader of a text whose first bytes (UTF-8) or characters are ``head``."""
    text = head.decode("utf-8", "ignore") if isinstance(head, bytes) else str(head)
    text = text.lstrip("\ufeff \t\r\n")
    if text.startswith("{"):
        return read_jsonlines
    if text.startswith("<") or text.startswith("- <"):
        return read_xml
    if "EventCode=" in text or "LogName=" in text:
        return read_classic
    return None


def _unicode_encoding(head: bytes) -> Optional[Tuple[str, bytes]]:
    """The UTF-16 or UTF-32 codec of a text starting with ``head`` and its BOM: by the BOM, or without one by the NUL
    bytes around its first character (every form starts with an ASCII one), as JSON's own detection does; None for
    UTF-8."""
    bom = next(((bom, codec) for bom, codec in UNICODE_BOMS if head.startswith(bom)), None)
    if bom is not None:
        return bom[1], bom[0]
    if len(head) >= 4 and head[0] and not any(head[1:4]):
        return "utf-32-le", b""
    if len(head) >= 4 and head[3] and not any(head[:3]):
        return "utf-32-be", b""
    if len(head) >= 2 and head[0] and not head[1]:
        return "utf-16-le", b""
    if len(head) >= 2 and head[1] and not head[0]:
        return "utf-16-be", b""
    return None


def _declared_encoding(head: bytes) -> Optional[str]:
    """The codec an ASCII-compatible XML text declares (ISO-8859-1, windows-1252…), None when it declares none or a
    Unicode one (whose bytes say which it is: PowerShell writes encoding="utf-16" over UTF-8 text); LookupError
    for an encoding that is unknown or cannot be read this way."""
    match = XML_DECLARED_ENCODING.match(head)
    if match is None:
        return None
    declared = match.group(1).decode("ascii", "replace")
    try:
        codec = codecs.lookup(declared).name
        if codec.startswith("utf") or codec == "ascii":
            return None
        ascii_compatible = "<?xml".encode(codec) == b"<?xml"
    except (LookupError, ValueError):  # not a codec, or not a text encoding (base64, rot13)
        ascii_compatible = False
    if not ascii_compatible:
        raise LookupError(f"the XML declares the encoding {declared!r}, which is not known")
    return codec


def _read_transcoded(
    stream: io.BufferedReader,
    encoding: str,
    offset: int,
    reader: StreamReader,
    name: str,
    event_ids: frozenset,
    stats: ReadStats,
) -> Iterator[ReadResult]:
    """UTF-16/32 exports (wevtutil, PowerShell), and XML in the encoding it declares, re-encoded to UTF-8 on the fly
    (record offsets are then those of the UTF-8 text); the file ends at the first byte that is not valid text."""
    text = _Utf8Encoder(stream, encoding, offset)
    yield from reader(io.BufferedReader(text), name, event_ids, stats, 0)
    if text.invalid_at is not None:
        yield RecordError(
            Origin(name, stats.records + 1, text.invalid_at),
            "malformed",
            f"not valid {encoding.upper()} text from here: the rest of the file is not read",
            fatal=True,
        )


class _Utf8Encoder(io.RawIOBase):
    """A byte stream in ``encoding`` as UTF-8. It ends before the first byte that is not valid text (an export cut
    in the middle of a character loses nothing before the cut); ``invalid_at`` is then that byte's offset."""

    def __init__(self, stream: BinaryIO, encoding: str, offset: int):
        self.stream = stream
        self.encoding = encoding
        self.decoder = codecs.getincrementaldecoder(encoding)()
        self.offset = offset  # of the next byte read from the stream
        self.pending = b""
        self.ended = False
        self.invalid_at: Optional[int] = None

    def readable(self) -> bool:
        return True

    def readinto(self, target: memoryview) -> int:  # type: ignore[override]  # BufferedReader gives a memoryview
        while len(self.pending) < len(target) and not self.ended:
            chunk = self.stream.read(65536)
            self.ended = not chunk
            self.pending += self._decoded(chunk).encode("utf-8")
        size = min(len(target), len(self.pending))
        target[:size] = self.pending[:size]
        self.pending = self.pending[size:]
        return size

    def _decoded(self, chunk: bytes) -> str:
        held_back = len(self.decoder.getstate()[0])  # bytes of a character cut by the previous chunk's end
        self.offset += len(chunk)
        try:
            return self.decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as error:  # error.object: the held-back bytes, then the chunk
            self.ended = True
            self.invalid_at = self.offset - len(chunk) - held_back + error.start
            return error.object[: error.start].decode(self.encoding)


def _read_evtx_stream(stream: BinaryIO, name: str, event_ids: frozenset, stats: ReadStats) -> Iterator[ReadResult]:
    """An EVTX out of an archive, from a temporary copy (in memory when small, else a file deleted on close)."""
    with tempfile.SpooledTemporaryFile(max_size=EVTX_IN_MEMORY_BYTES) as copy:
        shutil.copyfileobj(stream, copy, 1 << 20)
        copy.seek(0)
        try:
            yield from read_evtx(name, event_ids, stats, copy)
        except EvtxUnavailable as error:  # not a damaged member: the next ones are read
            yield RecordError(Origin(name, 0), "unreadable", f"cannot read file: {error}", fatal=True)


class _Expansion:
    """How far one archive may expand (MAX_EXPANSION_RATIO times its size, at most MAX_EXPANDED_BYTES), checked
    against each member's declared size before it is read (zipfile and tarfile never read past it)."""

    def __init__(self, stream: BinaryIO):
        size = stream.seek(0, 2)
        stream.seek(0)
        self.limit = min(MAX_EXPANDED_BYTES, max(MAX_EXPANSION_RATIO * size, MAX_RECORD_BYTES))
        self.size = size
        self.expanded = 0

    def refused(self, member_size: int) -> Optional[str]:
        """Why a member of this size is not read, or None (then it counts against the limit)."""
        if self.expanded + member_size > self.limit:
            return (
                f"expands to {member_size} bytes, past the archive's limit of {self.limit} bytes in all "
                f"({MAX_EXPANSION_RATIO}x its {self.size} bytes, at most {MAX_EXPANDED_BYTES >> 30} GiB): not read"
            )
        self.expanded += member_size
        return None


def _read_zip(stream: BinaryIO, path: str, event_ids: frozenset, stats: ReadStats) -> Iterator[ReadResult]:
    expansion = _Expansion(stream)
    with zipfile.ZipFile(stream) as archive:
        for member in archive.infolist():
            if member.is_dir():
                continue
            name = f"{path}!{member.filename}"
            special = _special_file(member.external_attr >> 16) if member.create_system == 3 else None  # 3: Unix
            if special is not None:
                yield RecordError(Origin(name, 0), "not a regular file", f"archive member is {special}: skipped")
                continue
            problem = "encrypted: not read" if member.flag_bits & 0x1 else expansion.refused(member.file_size)
            if problem is not None:
                yield RecordError(Origin(name, 0), "unreadable", f"archive member {problem}")
                continue
            try:
                with archive.open(member) as member_stream:
                    yield from _tolerate_unrecognised(read_stream(member_stream, name, event_ids, stats))
            except MEMBER_ERRORS as error:
                yield RecordError(
                    Origin(name, 0),
                    "damaged",
                    f"archive member damaged: {error}; the records before were read, the rest of the member is not",
                )


def _read_tar(stream: BinaryIO, path: str, event_ids: frozenset, stats: ReadStats) -> Iterator[ReadResult]:
    name = path
    expansion = _Expansion(stream)
    try:
        with tarfile.open(fileobj=stream, mode="r|gz") as archive:
            for member in archive:
                name = f"{path}!{member.name}"
                problem = expansion.refused(member.size + tarfile.BLOCKSIZE)
                if problem is not None:  # a stream is only skipped by expanding it: the rest is not read
                    yield RecordError(
                        Origin(name, 0),
                        "unreadable",
                        f"archive member {problem}; the rest of the archive is not read",
                        fatal=True,
                    )
                    return
                if member.type in TAR_SPECIAL_TYPES:
                    yield RecordError(
                        Origin(name, 0),
                        "not a regular file",
                        f"archive member is {TAR_SPECIAL_TYPES[member.type]}: skipped",
                    )
                    continue
                member_stream = archive.extractfile(member) if member.isfile() else None  # None: a directory
                if member_stream is not None:
                    yield from _tolerate_unrecognised(read_stream(member_stream, name, event_ids, stats))
    except (tarfile.TarError, *MEMBER_ERRORS) as error:
        yield RecordError(Origin(name, 0), "truncated", f"archive damaged after this member: {error}", fatal=True)
