"""The EVTX file layout: a 4 KiB file header, then 64 KiB chunks of records, each with its own header and CRC32s.

The Rust parser drops a chunk it cannot use without a word, so ``damaged_chunks`` checks each chunk and words
every loss with the record ids it held; ``single_chunk_file`` lets one chunk be parsed on its own.
"""

import struct
import zlib
from contextlib import contextmanager
from typing import IO, Collection, Iterator, List, Optional, Union

from ..event import Origin, RecordError

FILE_HEADER_SIZE = 4096
CHUNK_SIZE = 65536
CHUNK_HEADER_SIZE = 512
CHUNK_MAGIC = b"ElfChnk\x00"
HEADER_CRC_SPAN = 120  # the file header's CRC32 covers its first 120 bytes
DIRTY_FLAG = 0x0001


def file_header(template: bytes, chunk_count: int) -> bytes:
    """The template file header, rewritten for ``chunk_count`` chunks, clean, with a valid CRC32."""
    header = bytearray(template[:FILE_HEADER_SIZE])
    struct.pack_into("<Q", header, 16, chunk_count - 1)  # last chunk number
    struct.pack_into("<H", header, 42, chunk_count)  # number of chunks
    flags = struct.unpack_from("<I", header, 120)[0]
    struct.pack_into("<I", header, 120, flags & ~DIRTY_FLAG)
    struct.pack_into("<I", header, 124, zlib.crc32(bytes(header[:HEADER_CRC_SPAN])))
    return bytes(header)


EvtxSource = Union[str, IO[bytes]]  # a path, or a seekable file (an EVTX read out of an archive)


@contextmanager
def opened(source: EvtxSource) -> Iterator[IO[bytes]]:
    """The source as a binary file: a path is opened; an open file is lent, its position restored afterwards."""
    if isinstance(source, str):
        with open(source, "rb") as stream:
            yield stream
        return
    position = source.tell()
    try:
        yield source
    finally:
        source.seek(position)


def single_chunk_file(source: EvtxSource, number: int) -> bytes:
    """Chunk ``number`` of the file as an EVTX file of its own (a chunk's records need nothing outside it)."""
    with opened(source) as stream:
        stream.seek(0)
        header = stream.read(FILE_HEADER_SIZE)
        stream.seek(FILE_HEADER_SIZE + number * CHUNK_SIZE)
        return file_header(header, 1) + stream.read(CHUNK_SIZE)


def damaged_chunks(
    source: EvtxSource, checksums_to_verify: Optional[Collection[int]] = None, name: Optional[str] = None
) -> List[RecordError]:
    """The chunks the parser had to skip or could only partly read: missing, truncated, overwritten or failing
    their records checksum. ``checksums_to_verify``: the chunk numbers whose records CRC32 is computed here
    (None: all of them), when the parser has verified the others itself. ``name``: the file's name in errors
    (default: the source's path)."""
    path = name if name is not None else str(source)
    with opened(source) as stream:
        size = stream.seek(0, 2)
        stream.seek(0)
        header = stream.read(FILE_HEADER_SIZE)
        declared = struct.unpack_from("<H", header, 42)[0] if len(header) >= 44 else 0
        present = max(0, (size - FILE_HEADER_SIZE + CHUNK_SIZE - 1) // CHUNK_SIZE)
        errors = []
        for number in range(present):
            offset = FILE_HEADER_SIZE + number * CHUNK_SIZE
            stream.seek(offset)
            verify = checksums_to_verify is None or number in checksums_to_verify
            problem = _chunk_problem(stream, min(size - offset, CHUNK_SIZE), verify)
            if problem is not None:
                errors.append(RecordError(Origin(path, 0, offset), "damaged", f"EVTX chunk {number}: {problem}"))
    if declared > present:  # one error for all of them: a header may declare up to 65,535 chunks
        errors.append(
            RecordError(
                Origin(path, 0, FILE_HEADER_SIZE + present * CHUNK_SIZE), "damaged", _missing_chunks(present, declared)
            )
        )
    return errors


def _missing_chunks(present: int, declared: int) -> str:
    chunks = f"chunk {present}" if declared == present + 1 else f"chunks {present}-{declared - 1}"
    return (
        f"EVTX {chunks}: missing: the header declares {declared} chunks, the file ends after {present} "
        "(truncated, or a wrong header); their records are lost"
    )


def _chunk_problem(stream: IO[bytes], length: int, verify_checksum: bool) -> Optional[str]:
    """What is wrong with the ``length`` bytes of chunk at the stream's position (only its header is read when it
    has its signature and its checksum is not to be verified)."""
    head = stream.read(CHUNK_HEADER_SIZE)
    if not head.startswith(CHUNK_MAGIC):
        chunk = head + stream.read(CHUNK_SIZE - len(head))
        return None if chunk.count(0) == len(chunk) else "no chunk signature: its records could not be read"
    held = "records {}-{}".format(*struct.unpack_from("<QQ", head, 24)) if len(head) >= 40 else "its records"
    if length < CHUNK_SIZE:
        return f"truncated after {length} of {CHUNK_SIZE} bytes: {held} may be incomplete"
    if not verify_checksum:
        return None
    records = stream.read(CHUNK_SIZE - CHUNK_HEADER_SIZE)
    free_space, records_crc = struct.unpack_from("<II", head, 48)
    if (
        CHUNK_HEADER_SIZE <= free_space <= CHUNK_SIZE
        and zlib.crc32(memoryview(records)[: free_space - CHUNK_HEADER_SIZE]) != records_crc
    ):
        return f"checksum mismatch: {held} are damaged and some were skipped"
    return None
