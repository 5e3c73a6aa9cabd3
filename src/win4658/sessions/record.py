"""A handle's Lifetime as the canonical session record: the field names of mappings/session.yml."""
from functools import lru_cache
from typing import Any, Dict, Optional

from ..detections.engine import ABSENT
from ..detections.lifetime import Lifetime, Opened, mask_number
from ..event import Event
from ..mapping import basename
from ..times import format_ns
from .access import access_names

# a log names a few hundred processes and objects millions of times
cached_basename = lru_cache(maxsize=8192)(basename)


def session_record(lifetime: Lifetime) -> Dict[str, Any]:
    """Every field the handle's events show; absent values are left out."""
    opened, closed = lifetime.opened, lifetime.closed
    host, process_number, handle_id = lifetime.key
    record: Dict[str, Any] = {}
    if lifetime.opened_ns is not None:
        record["start"] = format_ns(lifetime.opened_ns)
    if lifetime.closed_ns is not None:
        record["end"] = format_ns(lifetime.closed_ns)
        if lifetime.opened_ns is not None:
            record["duration_ns"] = duration = lifetime.closed_ns - lifetime.opened_ns
            record["duration_seconds"] = duration / 1e9
    record["ending"] = lifetime.ending
    if host is not None:
        record["host"] = host
    record["process_id"] = process_number
    record["process_id_hex"] = hex(process_number)
    record["handle_id"] = handle_id
    record["access_count"] = lifetime.access_count
    _add_present(record, _opened_subject(opened) if opened is not None else _closed_subject(closed))
    if opened is not None:
        _add_present(record, _object_and_access(opened, lifetime.used_mask, lifetime.access_count))
        _add_present(record, {"open_record_id": _text(opened.record_id)})
    if closed is not None:
        _add_present(record, {"close_record_id": _text(closed.system.get("EventRecordID"))})
    return record


def _add_present(record: Dict[str, Any], fields: Dict[str, Any]) -> None:
    for name, value in fields.items():
        if value is not None and value not in ABSENT:
            record[name] = value


def _opened_subject(opened: Opened) -> Dict[str, Optional[str]]:
    user = opened.user or ""
    domain, _, name = user.rpartition("\\")
    return {"user_sid": opened.user_sid, "user_name": name or None, "user_domain": domain or None,
            "logon_id": opened.logon_id, "process_executable": opened.process,
            "process_name": cached_basename(opened.process) if opened.process else None}


def _closed_subject(closed: Event) -> Dict[str, Optional[str]]:
    data = closed.data
    process = data.get("ProcessName")
    return {"user_sid": data.get("SubjectUserSid"), "user_name": data.get("SubjectUserName"),
            "user_domain": data.get("SubjectDomainName"), "logon_id": data.get("SubjectLogonId"),
            "process_executable": process,
            "process_name": cached_basename(process) if process and process not in ABSENT else None}


def _object_and_access(opened: Opened, used_mask: int, access_count: int) -> Dict[str, Any]:
    object_type = opened.object_type
    fields: Dict[str, Any] = {"object_server": opened.object_server, "object_type": object_type,
                              "object_name": opened.object_name,
                              "object_basename": cached_basename(opened.object_name) if opened.object_name else None}
    try:
        requested = mask_number(opened.access_mask)
    except ValueError:
        requested = None
    if requested is not None:
        fields["access_requested_mask"] = hex(requested)
        fields["access_requested"] = list(access_names(object_type, requested))
    if access_count:
        fields["access_used_mask"] = hex(used_mask)
        fields["access_used"] = list(access_names(object_type, used_mask))
    privileges = (opened.privileges or "").split()
    if privileges and privileges != ["-"]:
        fields["privileges"] = privileges
    return fields


def _text(value: object) -> Optional[str]:
    return None if value is None or value == "" else str(value)
