"""The JSON-lines reader's fast paths, each equal to a plain reference (tests/readers/test_jsonlines_fast.py holds
them side by side):

- ``winlogbeat_system``: Winlogbeat's System fields by straight-line code built from windows.WINLOGBEAT_PATHS; the
  reference walks each path of the table (the tests' ``_walked_system``).
- ``nxlog_system``: NXLog's System fields found at their keys (windows.NXLOG_FIELDS) by straight-line code; the
  reference reads them key by key (the tests' ``_plain_flat``).
- ``local_to_utc_fast``: NXLog's local time to UTC by memos of whole minutes, with its nanoseconds; the reference is
  jsonlines._local_to_utc (datetime arithmetic), which answers whatever this one leaves (None).
- ``strptime``: datetime.strptime for canonical text; ``new_origin``: Origin(...) without NamedTuple's __new__.
"""

import re
from datetime import date, datetime
from functools import lru_cache
from typing import Callable, Dict, List, Optional, Tuple

from ..event import TEXT_ONLY_FIELDS, check_system_value
from ..windows import NXLOG_FIELDS
from ..windows import WINLOGBEAT_FALLBACK_PATHS as FALLBACK_PATHS
from ..windows import WINLOGBEAT_PATHS as SYSTEM_PATHS

# "YYYY-MM-DD hh:mm:ss" / "YYYY-MM-DDThh:mm:ss" in ASCII digits, by the separator the format puts between date and time
CANONICAL_TIME = {
    separator: re.compile(rf"[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}{separator}[0-9]{{2}}:[0-9]{{2}}:[0-9]{{2}}")
    for separator in (" ", "T")
}
# Days (date.toordinal) whose year strftime writes with four digits: outside them the datetime path answers.
FOUR_DIGIT_YEARS = range(date(1000, 1, 1).toordinal(), date(9999, 12, 31).toordinal() + 1)
EPOCH_SECONDS = date(1970, 1, 1).toordinal() * 86400  # 1970-01-01 in _minute_seconds' count
new_origin = tuple.__new__  # Origin(path, record, offset) without the Python-level __new__ of a NamedTuple


def compile_winlogbeat_reader() -> Callable[[dict], dict]:
    """The System fields of a Winlogbeat 7+/Elastic Agent document as straight-line code (3× faster than walking
    each path), from the table the pipeline generator reads too: each field at its path, else at its fallback."""
    lines = ["def winlogbeat_system(document):", "    system = {}"]
    lines += _path_lines(_path_tree(SYSTEM_PATHS), "document", "    ")
    for field, path in FALLBACK_PATHS.items():
        lines.append(f"    if {field!r} not in system:")
        lines += _path_lines(_path_tree({field: path}), "document", "        ")
    lines.append("    return system")
    namespace: Dict[str, object] = {"check_system_value": check_system_value}
    exec(
        compile("\n".join(lines), "<winlogbeat System fields>", "exec"), namespace
    )  # built from the table's names only
    return namespace["winlogbeat_system"]  # type: ignore[return-value]


def _unchecked_types(field: str) -> str:
    """The test, in the generated code, that sends a value to check_system_value: anything but text (and, for a
    numeric field, a whole number)."""
    if field == "Keywords":  # Winlogbeat's usual one rendered name passes without a call
        return (
            "value.__class__ is not str and not (value.__class__ is list and len(value) == 1"
            " and value[0].__class__ is str)"
        )
    if field in TEXT_ONLY_FIELDS:
        return "value.__class__ is not str"
    return "value.__class__ is not str and value.__class__ is not int"


def _path_tree(paths: Dict[str, str]) -> dict:
    """{"a.b": field, "a.c": other} → {"a": {"b": field, "c": other}}, in the table's order."""
    tree: dict = {}
    for field, path in paths.items():
        *parents, leaf = path.split(".")
        node = tree
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = field
    return tree


def _path_lines(tree: dict, node: str, indent: str) -> List[str]:
    lines = []
    for key, branch in tree.items():
        if isinstance(branch, str):
            lines += [
                f"{indent}value = {node}.get({key!r})",
                f"{indent}if value is not None:",
                f"{indent}    if {_unchecked_types(branch)}:",
                f"{indent}        check_system_value({branch!r}, value)",
                f"{indent}    system[{branch!r}] = value",
            ]
        else:
            child = f"node_{len(indent)}"
            lines += [f"{indent}{child} = {node}.get({key!r})", f"{indent}if isinstance({child}, dict):"]
            lines += _path_lines(branch, child, indent + "    ")
    return lines


winlogbeat_system = compile_winlogbeat_reader()


def compile_nxlog_reader() -> Callable[[dict], dict]:
    """The System fields NXLog keeps at their keys (the time and Keywords aside) as straight-line code, from the
    layer's table: each field at its key, else (only when that key is absent) at the next one; checked as above."""
    lines = ["def nxlog_system(document):", "    system = {}"]
    for field, key, absent_key in NXLOG_FIELDS:
        read = f"document.get({key!r})"
        if absent_key is not None:
            read += f" if {key!r} in document else document.get({absent_key!r})"
        lines += [
            f"    value = {read}",
            "    if value is not None:",
            f"        if {_unchecked_types(field)}:",
            f"            check_system_value({field!r}, value)",
            f"        system[{field!r}] = value",
        ]
    lines.append("    return system")
    namespace: Dict[str, object] = {"check_system_value": check_system_value}
    exec(compile("\n".join(lines), "<NXLog System fields>", "exec"), namespace)  # built from the table's names only
    return namespace["nxlog_system"]  # type: ignore[return-value]


nxlog_system = compile_nxlog_reader()


def local_to_utc_fast(event_time: object, received: object, stamp: object) -> Optional[Tuple[str, int]]:
    """jsonlines._local_to_utc on canonical text, by memos of whole minutes (several times faster), with the time
    it writes in nanoseconds since the epoch (what times.time_ns reads from it); None for anything else."""
    if not (
        event_time.__class__ is str
        and received.__class__ is str
        and stamp.__class__ is str
        and CANONICAL_TIME[" "].fullmatch(event_time)
        and CANONICAL_TIME[" "].fullmatch(received)
        and CANONICAL_TIME["T"].match(stamp)
    ):
        return None
    received_minute, stamp_minute = _minute_seconds(received[:16]), _minute_seconds(stamp[:16])
    if received_minute is None or stamp_minute is None or received[17:] > "59" or stamp[17:19] > "59":
        return None
    offset = received_minute + int(received[17:]) - stamp_minute - int(stamp[17:19])
    utc_minute = _shifted_minute(event_time[:16], round(offset / 900))
    if utc_minute is None or event_time[17:] > "59":
        return None
    # a shift by whole quarter hours leaves the seconds as they are
    minute_text, minute_ns = utc_minute
    return f"{minute_text}:{event_time[17:]}Z", minute_ns + int(event_time[17:]) * 1_000_000_000


@lru_cache(maxsize=4096)
def _minute_seconds(text: str) -> Optional[int]:
    """Seconds since 0001-01-01 of a canonical 'YYYY-MM-DD hh:mm' (or with T), None when not a real time."""
    try:
        moment = datetime(int(text[:4]), int(text[5:7]), int(text[8:10]), int(text[11:13]), int(text[14:]))
    except ValueError:
        return None
    return moment.toordinal() * 86400 + moment.hour * 3600 + moment.minute * 60


@lru_cache(maxsize=4096)
def _shifted_minute(local_minute: str, quarter_hours: int) -> Optional[Tuple[str, int]]:
    """'YYYY-MM-DDThh:mm' of a local 'YYYY-MM-DD hh:mm' moved back by quarter hours, and that minute in nanoseconds
    since the epoch; None out of datetime's reach."""
    seconds = _minute_seconds(local_minute)
    if seconds is None:
        return None
    seconds -= 900 * quarter_hours
    day, second_of_day = divmod(seconds, 86400)
    if day not in FOUR_DIGIT_YEARS:
        return None
    text = f"{date.fromordinal(day).strftime('%Y-%m-%d')}T{second_of_day // 3600:02d}:{second_of_day // 60 % 60:02d}"
    return text, (seconds - EPOCH_SECONDS) * 1_000_000_000


def strptime(text: str, time_format: str) -> datetime:
    """datetime.strptime(text, time_format) for the two formats of jsonlines._local_to_utc, several times faster on
    canonical text; anything else (or an impossible date) goes to strptime itself, which gives its own answer or
    error."""
    if CANONICAL_TIME[time_format[8]].fullmatch(text):
        try:
            return datetime(
                int(text[:4]), int(text[5:7]), int(text[8:10]), int(text[11:13]), int(text[14:16]), int(text[17:])
            )
        except ValueError:
            pass
    return datetime.strptime(text, time_format)
