"""A handle session as hunt's JSON line, built from JSON pieces: the fast path of
``ndjson_line({"session": session_record(lifetime)})`` (record.py), which it equals byte for byte
(tests/sessions/test_line.py). hunt writes one line per handle; the pieces a log repeats (hosts, users, processes,
objects, access names, privileges) are encoded once per value, the rest by orjson as the reference does.

``session_line`` is C's line (line_compiled.c, built where the package was installed with a C compiler) with
``python_session_line`` answering each line C leaves to it; without the build, python_session_line alone."""

from functools import lru_cache
from types import ModuleType
from typing import Any, Callable, Optional

import orjson

from ..detections.lifetime import (
    CLOSE_WITHOUT_OPEN,
    CLOSED,
    FORGOTTEN,
    OPEN_AT_END,
    REUSED,
    HandleKey,
    Lifetime,
    mask_number,
)
from ..event import Event
from ..times import minute_text
from .access import access_names
from .record import cached_basename, privilege_names, user_parts

dumps = orjson.dumps
PIECE_CACHE = 4096  # values per field: a log names a few hundred hosts, users, processes and objects
ENDINGS = {
    ending: b'"ending":' + dumps(ending) for ending in (CLOSED, REUSED, OPEN_AT_END, FORGOTTEN, CLOSE_WITHOUT_OPEN)
}


class Pieces(dict):
    """value → its JSON piece, made by ``make`` once per value: a dict look-up when seen (faster than lru_cache's
    call, several times per session); forgotten all at once past PIECE_CACHE values, so memory stays bounded."""

    def __init__(self, make: Callable[[Any], bytes]):
        super().__init__()
        self.make = make

    def __missing__(self, value: Any) -> bytes:
        if len(self) >= PIECE_CACHE:
            self.clear()
        self[value] = piece = self.make(value)
        return piece


def _piece(name: str, absent: tuple = (None, "", "-")) -> Pieces:
    """value → ``,"name":value``, or nothing for an ``absent`` value."""
    label = b"," + dumps(name) + b":"
    return Pieces(lambda value: b"" if value in absent else label + dumps(value))


def _based(name: str, base: str) -> Pieces:
    """A path → ``,"name":path,"base":its base name``, or nothing for an absent one."""
    template = b",%b:%%b,%b:%%b" % (dumps(name), dumps(base))
    return Pieces(
        lambda path: b"" if not path or path == "-" else template % (dumps(path), dumps(cached_basename(path)))
    )


HOSTS = _piece("host", absent=(None,))
SIDS, NAMES, DOMAINS, LOGONS = _piece("user_sid"), _piece("user_name"), _piece("user_domain"), _piece("logon_id")
SERVERS, TYPES = _piece("object_server"), _piece("object_type")
PROCESSES = _based("process_executable", "process_name")
OBJECT_NAMES = _based("object_name", "object_basename")
HANDLE_ID = b',"handle_id":'  # each handle's own: a table of them would miss as often as it hit
ACCESS_COUNTS = Pieces(lambda count: b',"access_count":%d' % count)
PROCESS_IDS = Pieces(lambda number: b',"process_id":%d,"process_id_hex":"%b"' % (number, hex(number).encode()))


@lru_cache(maxsize=PIECE_CACHE)
def _requested(object_type: Optional[str], access_mask: Optional[str]) -> bytes:
    try:
        requested = mask_number(access_mask)
    except ValueError:
        return b""
    return b',"access_requested_mask":"%b","access_requested":%b' % (
        hex(requested).encode(),
        dumps(access_names(object_type, requested)),
    )


@lru_cache(maxsize=PIECE_CACHE)
def _used(object_type: Optional[str], used_mask: int) -> bytes:
    return b',"access_used_mask":"%b","access_used":%b' % (
        hex(used_mask).encode(),
        dumps(access_names(object_type, used_mask)),
    )


MINUTES = Pieces(lambda minute: minute_text(minute).encode())  # a minute since the epoch → 'YYYY-MM-DDThh:mm'
SECONDS = tuple(b":%02d." % second for second in range(60))
THREE_DIGITS = tuple(b"%03d" % number for number in range(1000))
TIME_END = b'Z",'


def _timed(label: bytes, nanoseconds: int, tail: bytes = TIME_END) -> bytes:
    """``label``, then times.format_ns's text as bytes (joined from tables: cheaper than formatting the numbers) and
    ``tail``."""
    minute, microseconds = divmod(nanoseconds // 1000, 60_000_000)
    milliseconds, microseconds = divmod(microseconds, 1000)
    second, milliseconds = divmod(milliseconds, 1000)
    return b"".join(
        (label, MINUTES[minute], SECONDS[second], THREE_DIGITS[milliseconds], THREE_DIGITS[microseconds], tail)
    )


def _privilege_list(text: Optional[str]) -> bytes:
    privileges = privilege_names(text)
    return b',"privileges":' + dumps(privileges) if privileges else b""


PRIVILEGES = Pieces(_privilege_list)


def _record_id(label: bytes, record_id: object, tail: bytes = b"") -> bytes:
    """``label`` and the record id as session_record writes it, or nothing without one; then ``tail``."""
    if record_id.__class__ is int:  # as the readers give it: written as str() writes it, with nothing to escape
        return b'%b"%d"%b' % (label, record_id, tail)
    return (label + dumps(str(record_id)) if record_id is not None and record_id != "" else b"") + tail


CLOSE_RECORD_ID = b',"close_record_id":'
OPEN_RECORD_ID = b',"open_record_id":'
SESSION_START = b'{"session":{'
START, END = b'"start":"', b'"end":"'
SESSION_START_END = SESSION_START + END  # a close without an open: its end comes first
CLOSE_WITHOUT_OPEN_TAIL = TIME_END + ENDINGS[CLOSE_WITHOUT_OPEN]
NO_ACCESS = ACCESS_COUNTS[0]  # a close without an open used its handle no time
UNTIMED_CLOSE = SESSION_START + ENDINGS[CLOSE_WITHOUT_OPEN]
LINE_END = b"}}\n"


def python_session_line(lifetime: Lifetime) -> bytes:
    """``{"session": {…}}`` and a newline: the fields of session_record, in its order."""
    key, opened, closed, opened_ns, closed_ns, _accesses, access_count, used_mask, ending = lifetime
    if opened is None:
        return _close_without_open(key, closed, closed_ns)
    host, process_number, handle_id = key
    _origin, process, user, object_type, object_name, access_mask, server, sid, logon_id, privileges, record_id = opened
    domain, name = user_parts(user)
    return b"".join(
        (
            SESSION_START,
            b"" if opened_ns is None else _timed(START, opened_ns),
            b"" if closed_ns is None else _timed(END, closed_ns),
            b"" if opened_ns is None or closed_ns is None else _duration(closed_ns - opened_ns),
            ENDINGS[ending],
            HOSTS[host],
            PROCESS_IDS[process_number],
            HANDLE_ID + dumps(handle_id),
            ACCESS_COUNTS[access_count],
            SIDS[sid],
            NAMES[name],
            DOMAINS[domain],
            LOGONS[logon_id],
            PROCESSES[process],
            SERVERS[server],
            TYPES[object_type],
            OBJECT_NAMES[object_name],
            _requested(object_type, access_mask),
            _used(object_type, used_mask) if access_count else b"",
            PRIVILEGES[privileges],
            _record_id(OPEN_RECORD_ID, record_id),
            LINE_END if closed is None else _record_id(CLOSE_RECORD_ID, closed.system.get("EventRecordID"), LINE_END),
        )
    )


def _duration(nanoseconds: int) -> bytes:
    return b'"duration_ns":%b,"duration_seconds":%b,' % (dumps(nanoseconds), dumps(nanoseconds / 1e9))


def _close_without_open(key: HandleKey, closed: Event, closed_ns: Optional[int]) -> bytes:
    """Most sessions of a log that starts mid-way: the close's subject and nothing of an open."""
    host, process_number, handle_id = key
    value = closed.data.get
    return b"".join(
        (
            UNTIMED_CLOSE if closed_ns is None else _timed(SESSION_START_END, closed_ns, CLOSE_WITHOUT_OPEN_TAIL),
            HOSTS[host],
            PROCESS_IDS[process_number],
            HANDLE_ID + dumps(handle_id),
            NO_ACCESS,
            SIDS[value("SubjectUserSid")],
            NAMES[value("SubjectUserName")],
            DOMAINS[value("SubjectDomainName")],
            LOGONS[value("SubjectLogonId")],
            PROCESSES[value("ProcessName")],
            _record_id(CLOSE_RECORD_ID, closed.system.get("EventRecordID"), LINE_END),
        )
    )


def compiled_or_python(compiled: Optional[ModuleType]) -> Callable[[Lifetime], bytes]:
    """The session line of ``compiled`` (line_compiled, given this module's pieces for what it leaves to them), or
    python_session_line's where it declines a value; python_session_line alone without it."""
    if compiled is None:
        return python_session_line
    compiled.configure(cached_basename, _requested, _used, PRIVILEGES, _duration, ENDINGS)
    compiled_line = compiled.session_line

    def session_line(lifetime: Lifetime) -> bytes:
        return compiled_line(lifetime) or python_session_line(lifetime)

    return session_line


try:
    import win4658.sessions.line_compiled as line_compiled
except ImportError:  # installed where no C compiler was found
    line_compiled = None  # type: ignore[assignment]

session_line = compiled_or_python(line_compiled)
