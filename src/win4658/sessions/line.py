"""A handle session as hunt's JSON line, built from JSON pieces: the fast path of
``ndjson_line({"session": session_record(lifetime)})`` (record.py), which it equals byte for byte
(tests/sessions/test_line.py). hunt writes one line per handle; the pieces a log repeats (hosts, users, processes,
objects, access names, privileges) are encoded once per value, the rest by orjson as the reference does."""

from functools import lru_cache
from typing import Callable, Optional

import orjson

from ..detections.lifetime import CLOSE_WITHOUT_OPEN, CLOSED, FORGOTTEN, OPEN_AT_END, REUSED, Lifetime, mask_number
from ..times import format_ns
from .access import access_names
from .record import cached_basename, privilege_names, user_parts

dumps = orjson.dumps
PIECE_CACHE = 4096  # values per field: a log names a few hundred hosts, users, processes and objects
ENDINGS = {
    ending: b'"ending":' + dumps(ending) for ending in (CLOSED, REUSED, OPEN_AT_END, FORGOTTEN, CLOSE_WITHOUT_OPEN)
}


def _piece(name: str, absent: tuple = (None, "", "-")) -> Callable[[Optional[str]], bytes]:
    """value → ``,"name":value``, or nothing for an ``absent`` value, remembered per value."""
    label = b"," + dumps(name) + b":"

    def piece(value: Optional[str]) -> bytes:
        return b"" if value in absent else label + dumps(value)

    return lru_cache(maxsize=PIECE_CACHE)(piece)


_host = _piece("host", absent=(None,))
_sid, _name, _domain, _logon = _piece("user_sid"), _piece("user_name"), _piece("user_domain"), _piece("logon_id")
_server, _type = _piece("object_server"), _piece("object_type")


@lru_cache(maxsize=PIECE_CACHE)
def _process(process: Optional[str]) -> bytes:
    if not process or process == "-":
        return b""
    return b',"process_executable":%b,"process_name":%b' % (dumps(process), dumps(cached_basename(process)))


@lru_cache(maxsize=PIECE_CACHE)
def _object_name(name: Optional[str]) -> bytes:
    if not name or name == "-":
        return b""
    return b',"object_name":%b,"object_basename":%b' % (dumps(name), dumps(cached_basename(name)))


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


@lru_cache(maxsize=PIECE_CACHE)
def _privilege_list(text: Optional[str]) -> bytes:
    privileges = privilege_names(text)
    return b',"privileges":' + dumps(privileges) if privileges else b""


def _record_id(label: bytes, record_id: object) -> bytes:
    return label + dumps(str(record_id)) if record_id is not None and record_id != "" else b""


def session_line(lifetime: Lifetime) -> bytes:
    """``{"session": {…}}`` and a newline: the fields of session_record, in its order."""
    opened, closed = lifetime.opened, lifetime.closed
    host, process_number, handle_id = lifetime.key
    opened_ns, closed_ns = lifetime.opened_ns, lifetime.closed_ns
    line = b'{"session":{'
    if opened_ns is not None:
        line += b'"start":"%b",' % format_ns(opened_ns).encode()
    if closed_ns is not None:
        line += b'"end":"%b",' % format_ns(closed_ns).encode()
        if opened_ns is not None:
            duration = closed_ns - opened_ns
            line += b'"duration_ns":%b,"duration_seconds":%b,' % (dumps(duration), dumps(duration / 1e9))
    pieces = [
        line + ENDINGS[lifetime.ending],
        _host(host),
        b',"process_id":%d,"process_id_hex":"%b","handle_id":%b,"access_count":%d'
        % (process_number, hex(process_number).encode(), dumps(handle_id), lifetime.access_count),
    ]
    if opened is not None:
        domain, name = user_parts(opened.user)
        object_type = opened.object_type
        pieces += (
            _sid(opened.user_sid),
            _name(name),
            _domain(domain),
            _logon(opened.logon_id),
            _process(opened.process),
            _server(opened.object_server),
            _type(object_type),
            _object_name(opened.object_name),
            _requested(object_type, opened.access_mask),
            _used(object_type, lifetime.used_mask) if lifetime.access_count else b"",
            _privilege_list(opened.privileges),
            _record_id(b',"open_record_id":', opened.record_id),
        )
    if closed is not None:
        if opened is None:
            data = closed.data
            pieces += (
                _sid(data.get("SubjectUserSid")),
                _name(data.get("SubjectUserName")),
                _domain(data.get("SubjectDomainName")),
                _logon(data.get("SubjectLogonId")),
                _process(data.get("ProcessName")),
            )
        pieces.append(_record_id(b',"close_record_id":', closed.system.get("EventRecordID")))
    pieces.append(b"}}\n")
    return b"".join(pieces)
