"""The canonical event every reader yields, whatever the input form."""

from functools import lru_cache
from typing import Any, Dict, NamedTuple, Optional, Union

from . import times

DEFAULT_EVENT_IDS = frozenset({4658})
SUPPORTED_EVENT_IDS = frozenset({4656, 4658, 4663, 4690})
MAX_EVENT_ID = 65535
# The largest record a text reader holds (a JSON line, an XML <Event>, a WinEventLog text record): memory stays
# bounded whatever the input; a longer one is reported as "record too large" and skipped.
MAX_RECORD_BYTES = 16 << 20
# What a System field may hold once read: text, or for the numeric ones a whole number too (Keywords: also a list of
# texts, as Winlogbeat renders them).
TEXT_ONLY_FIELDS = frozenset({"TimeCreated", "Computer", "Channel", "Provider", "ProviderGuid", "UserID"})


def parse_event_id(value: object) -> int:
    """The one event-id rule of every reader: a whole number 0-65535, written as a JSON integer or as ASCII decimal
    digits (leading zeros and surrounding whitespace allowed). Anything else (4658.7, "4658a", "+4658", true, 70000)
    raises ValueError."""
    if value.__class__ is int:
        number = value
    elif value.__class__ in (str, bytes) and value.strip().isdigit() and value.isascii():
        number = int(value)
    else:
        raise ValueError(f"not an event id: {value!r}")
    if not 0 <= number <= MAX_EVENT_ID:
        raise ValueError(f"not an event id: {value!r} (out of 0-{MAX_EVENT_ID})")
    return number


# parse_event_id for the texts of XML readers: a log repeats a few dozen ids (errors are not remembered)
event_id_of_text = lru_cache(maxsize=1024)(parse_event_id)


def check_system(system: Dict[str, object]) -> Dict[str, object]:
    """``system`` itself when every value has a type the canonical Event allows; else ValueError naming the field."""
    for name, value in system.items():
        if value.__class__ is not str:
            check_system_value(name, value)
    return system


def check_system_value(name: str, value: object) -> None:
    """ValueError unless ``value`` (not text: readers test that first, inline) may be System field ``name``."""
    if value.__class__ is int and name not in TEXT_ONLY_FIELDS:
        return
    if name == "Keywords" and value.__class__ is list and all(item.__class__ is str for item in value):
        return
    kind = {dict: "an object", list: "a list", bool: "a boolean", float: "a fractional number", int: "a number"}.get(
        value.__class__, type(value).__name__
    )
    wanted = "text" if name in TEXT_ONLY_FIELDS else "text or a whole number"
    raise ValueError(f"System field {name} is {kind} ({str(value)[:60]}), not {wanted}")


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

    def __init__(self, system: Dict[str, Any], data: Dict[str, str], origin: Origin):
        self.system = system
        self.data = data
        self.origin = origin

    @property
    def event_id(self) -> int:
        return self.system["EventID"]

    def time_ns(self) -> Optional[int]:
        """TimeCreated in nanoseconds since the epoch, None when it is not a time (times.time_ns)."""
        return times.time_ns(self.system.get("TimeCreated"))

    def __repr__(self) -> str:
        return f"Event({self.event_id}, {self.origin})"


class TimedEvent(Event):
    """An Event whose reader wrote TimeCreated itself, as "YYYY-MM-DDThh:mm:ssZ" of a real day and time, and knows
    that time in nanoseconds: a mapping copying it into a date field need not read it again, nor hunt's ordering
    parse it. A reader yields one only from a time it has proven so; tests/readers check that every such time is
    readable and that ``nanoseconds`` is what times.time_ns reads from it."""

    __slots__ = ("nanoseconds",)

    def __init__(self, system: Dict[str, Any], data: Dict[str, str], origin: Origin, nanoseconds: int):
        self.system = system  # as Event.__init__ sets them, without a second call: one TimedEvent per record
        self.data = data
        self.origin = origin
        self.nanoseconds = nanoseconds

    def time_ns(self) -> int:
        return self.nanoseconds


# Reasons a file is passed over on purpose (inside a directory or an archive: a README, a FIFO; a file given twice):
# counted, not a failure.
SKIPPED_BY_DESIGN = frozenset({"not an event file", "not a regular file", "read already"})


class RecordError(NamedTuple):
    """A record that could not be read; readers yield it in the stream and carry on."""

    origin: Origin
    reason: str
    message: str
    fatal: bool = False  # True when the rest of the file could not be read

    def __str__(self) -> str:
        return f"{self.origin}: {self.message}"

    @property
    def is_failure(self) -> bool:
        """Whether something that was asked for was not read or converted: then a command exits with status 1."""
        return self.fatal or self.reason not in SKIPPED_BY_DESIGN


ReadResult = Union[Event, RecordError]


class ReadStats:
    """Counts a reader keeps for the closing summary: every record is either yielded or counted here."""

    __slots__ = ("files", "records", "other_event_id")

    def __init__(self) -> None:
        self.files = 0
        self.records = 0
        self.other_event_id = 0
