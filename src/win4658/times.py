"""Event times as integers: ISO-8601 text ↔ nanoseconds since the epoch, for ordering and for Splunk's _time."""
import calendar
import re
from functools import lru_cache
from time import gmtime
from typing import Optional

ISO_TIME = re.compile(r"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:[.,](\d+))?\s*(Z|[+-]\d\d:?\d\d)?$")


def time_ns(text: object) -> Optional[int]:
    """Nanoseconds since the epoch of an ISO-8601 time (no zone means UTC), or None when unreadable."""
    match = ISO_TIME.match(str(text).strip()) if text else None
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    seconds = _day_start(year, month, day) + int(hour) * 3600 + int(minute) * 60 + int(second)
    if zone and zone != "Z":
        sign = -1 if zone[0] == "+" else 1
        digits = zone[1:].replace(":", "")
        seconds += sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    nanoseconds = int(fraction[:9].ljust(9, "0")) if fraction else 0
    return seconds * 1_000_000_000 + nanoseconds


@lru_cache(maxsize=4096)
def _day_start(year: str, month: str, day: str) -> int:
    return calendar.timegm((int(year), int(month), int(day), 0, 0, 0))


def format_ns(nanoseconds: Optional[int]) -> Optional[str]:
    """ISO-8601 UTC with microseconds, the precision the evidence tables show."""
    if nanoseconds is None:
        return None
    seconds, remainder = divmod(nanoseconds, 1_000_000_000)
    stamp = "%04d-%02d-%02dT%02d:%02d:%02d" % gmtime(seconds)[:6]
    return f"{stamp}.{remainder // 1000:06d}Z"
