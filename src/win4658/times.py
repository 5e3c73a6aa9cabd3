"""Event times as integers: ISO-8601 text ↔ nanoseconds since the epoch, for ordering and for Splunk's _time."""

import re
from datetime import date
from functools import lru_cache
from time import gmtime
from typing import Optional, overload

ISO_TIME = re.compile(r"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:[.,](\d+))?\s*(Z|[+-]\d\d:?\d\d)?$")
# The usual spelling, "YYYY-MM-DDThh:mm:ss[.fraction]Z" in ASCII digits: its minute, then what follows it (a second
# up to 60, a leap second)
UTC_MINUTE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})[T ]([0-9]{2}):([0-9]{2})")
EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
UTC_SECOND = re.compile(r":([0-5][0-9]|60)(?:[.,]([0-9]+))?Z")


def time_ns(text: object) -> Optional[int]:
    """Nanoseconds since the epoch of an ISO-8601 time (no zone means UTC), or None when unreadable."""
    if text.__class__ is str:
        tail = UTC_SECOND.fullmatch(text, 16)
        if tail is not None:
            minute = _minute_ns(text[:16])
            second, fraction = tail.groups()
            if minute is not None:
                return minute + int(second) * 1_000_000_000 + (int(fraction[:9].ljust(9, "0")) if fraction else 0)
    return _any_time_ns(text)


def readable_time(text: object) -> bool:
    """Whether ``time_ns`` reads ``text``: the usual spelling checked without computing the time."""
    if text.__class__ is str and UTC_SECOND.fullmatch(text, 16) is not None and _minute_ns(text[:16]) is not None:
        return True
    return _any_time_ns(text) is not None


@lru_cache(maxsize=4096)
def _minute_ns(text: str) -> Optional[int]:
    """The usual spelling's minute as _any_time_ns reads it (memo: events of one minute share it)."""
    match = UTC_MINUTE.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute = match.groups()
    seconds = _clock_seconds(year, month, day, hour, minute, "0")
    return None if seconds is None else seconds * 1_000_000_000


def _any_time_ns(text: object) -> Optional[int]:
    match = ISO_TIME.match(str(text).strip()) if text else None
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    seconds = _clock_seconds(year, month, day, hour, minute, second)
    if seconds is None:
        return None
    if zone and zone != "Z":
        sign = -1 if zone[0] == "+" else 1
        digits = zone[1:].replace(":", "")
        seconds += sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    nanoseconds = int(fraction[:9].ljust(9, "0")) if fraction else 0
    return seconds * 1_000_000_000 + nanoseconds


def _clock_seconds(year: str, month: str, day: str, hour: str, minute: str, second: str) -> Optional[int]:
    """Seconds since the epoch, or None for a date that does not exist or a time past 23:59:60."""
    start = _day_start(year, month, day)
    if start is None or int(hour) > 23 or int(minute) > 59 or int(second) > 60:
        return None
    return start + int(hour) * 3600 + int(minute) * 60 + int(second)


@lru_cache(maxsize=4096)
def _day_start(year: str, month: str, day: str) -> Optional[int]:
    try:
        return (date(int(year), int(month), int(day)).toordinal() - EPOCH_ORDINAL) * 86400
    except ValueError:  # month 13, February 30, year 0
        return None


@overload
def format_ns(nanoseconds: int) -> str: ...
@overload
def format_ns(nanoseconds: None) -> None: ...
@overload
def format_ns(nanoseconds: Optional[int]) -> Optional[str]: ...


def format_ns(nanoseconds: Optional[int]) -> Optional[str]:
    """ISO-8601 UTC with microseconds, the precision the evidence tables show."""
    if nanoseconds is None:
        return None
    seconds, remainder = divmod(nanoseconds, 1_000_000_000)
    minute, second = divmod(seconds, 60)
    return "%s:%02d.%06dZ" % (minute_text(minute), second, remainder // 1000)


@lru_cache(maxsize=4096)
def minute_text(minute: int) -> str:
    """'YYYY-MM-DDThh:mm' of a minute since the epoch (memo: times of one minute share it)."""
    return "%04d-%02d-%02dT%02d:%02d" % gmtime(minute * 60)[:5]
