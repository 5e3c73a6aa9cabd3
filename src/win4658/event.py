"""The canonical event every reader yields, whatever the input form."""
from typing import Dict, NamedTuple, Optional, Union

DEFAULT_EVENT_IDS = frozenset({4658})
SUPPORTED_EVENT_IDS = frozenset({4656, 4658, 4663, 4690})


class Origin(NamedTuple):
    """Where an event came from: enough to name it in an error message."""

    path: str
    record: int
    offset: Optional[int] = None

    def __str__(self) -> str:
        where = f"{self.path}: record {self.record}"
        return where if self.offset is None else f"{where} (byte offset {self.offset})"


class Event:
    """One Windows event.

    ``system`` holds the System fields under their XML names (EventID as int, TimeCreated as the
    ISO-8601 SystemTime string, Provider, ProviderGuid, Keywords, Task, Opcode, Level, Version,
    EventRecordID, ProcessID, ThreadID, Channel, Computer); a shipper that only sent the rendered
    text (Task "File System", Keywords ["Audit Success"]) leaves that text in place of the number.
    ``data`` holds EventData name → string value, verbatim.
    """

    __slots__ = ("system", "data", "origin")

    def __init__(self, system: Dict[str, object], data: Dict[str, str], origin: Origin):
        self.system = system
        self.data = data
        self.origin = origin

    @property
    def event_id(self) -> int:
        return self.system["EventID"]  # type: ignore[return-value]

    def __repr__(self) -> str:
        return f"Event({self.event_id}, {self.origin})"


class RecordError(NamedTuple):
    """A record that could not be read; readers yield it in the stream and carry on."""

    origin: Origin
    reason: str
    message: str
    fatal: bool = False  # True when the rest of the file could not be read

    def __str__(self) -> str:
        return f"{self.origin}: {self.message}"


ReadResult = Union[Event, RecordError]


class ReadStats:
    """Counts a reader keeps for the closing summary: every record is either yielded or counted here."""

    __slots__ = ("files", "records", "other_event_id")

    def __init__(self) -> None:
        self.files = 0
        self.records = 0
        self.other_event_id = 0
