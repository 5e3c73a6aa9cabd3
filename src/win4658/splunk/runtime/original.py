"""The one-line XML of a record exactly as a file holds it: what the input sends when no rendering is needed."""

from typing import BinaryIO, Optional

MAX_RECORD_BYTES = 1 << 20


def plain_text_kind(path: str) -> Optional[str]:
    """ "json" or "xml" for UTF-8 JSON-lines or event XML, whose record offsets are file offsets; else None
    (EVTX, archives, UTF-16, classic text, the '- <' documentation rendering)."""
    with open(path, "rb") as probe:
        head = probe.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    return "json" if head.startswith(b"{") else "xml" if head.startswith(b"<") else None


class OriginalXml:
    """The text of an XML record exactly as a UTF-8 file holds it, when that is one line starting with <Event."""

    def __init__(self, path: str, kind: Optional[str]):
        self.stream: Optional[BinaryIO] = open(path, "rb") if kind == "xml" else None

    def text_at(self, offset: Optional[int]) -> Optional[str]:
        """The record starting at this file offset, if it is one line of <Event …>…</Event>."""
        if self.stream is None or offset is None:
            return None
        self.stream.seek(offset)
        record = b""
        while b"</Event>" not in record and len(record) < MAX_RECORD_BYTES:
            block = self.stream.read(8192)
            if not block:
                return None
            record += block
        end = record.find(b"</Event>")
        record = record[: end + len(b"</Event>")]
        if end < 0 or not record.startswith(b"<Event") or b"\n" in record or b"\r" in record:
            return None
        return record.decode("utf-8", "replace")

    def close(self) -> None:
        if self.stream is not None:
            self.stream.close()
