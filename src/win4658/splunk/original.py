"""The one-line XML of a record exactly as a file holds it: what the input sends when no rendering is needed."""
from typing import BinaryIO, Optional

from ..event import Event

MAX_RECORD_BYTES = 1 << 20


class OriginalXml:
    """The text of an XML record exactly as a UTF-8 file holds it, when that is one line starting with <Event."""

    def __init__(self, path: str):
        self.path = path
        self.stream: Optional[BinaryIO] = None
        with open(path, "rb") as probe:
            head = probe.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
        if head.startswith(b"<"):
            self.stream = open(path, "rb")

    def text(self, event: Event) -> Optional[str]:
        origin = event.origin
        if self.stream is None or origin.path != self.path or origin.offset is None:
            return None
        self.stream.seek(origin.offset)
        record = b""
        while b"</Event>" not in record and len(record) < MAX_RECORD_BYTES:
            block = self.stream.read(65536)
            if not block:
                return None
            record += block
        end = record.find(b"</Event>")
        record = record[:end + len(b"</Event>")]
        if end < 0 or not record.startswith(b"<Event") or b"\n" in record or b"\r" in record:
            return None
        return record.decode("utf-8", "replace")

    def close(self) -> None:
        if self.stream is not None:
            self.stream.close()
