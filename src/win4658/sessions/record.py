"""A handle's Lifetime as the canonical session record: the field names of mappings/session.yml."""
from typing import Any, Dict, Optional

from ..detections.engine import ABSENT
from ..detections.lifetime import Lifetime, Opened, mask_number
from ..event import Event
from ..mapping import basename
from ..times import format_ns
from .access import access_names


def session_record(lifetime: Lifetime) -> Dict[str, Any]:
    """Every field the handle's events show; absent values are left out."""
    opened, closed = lifetime.opened, lifetime.closed
    host, process_number, handle_id = lifetime.key
    record: Dict[str, Any] = {
        "start": format_ns(lifetime.opened_ns),
        "end": format_ns(lifetime.closed_ns),
        "ending": lifetime.ending,
        "host": host,
        "process_id": process_number,
        "process_id_hex": hex(process_number),
        "handle_id": handle_id,
        "access_count": lifetime.access_count,
    }
    if lifetime.opened_ns is not None and lifetime.closed_ns is not None:
        record["duration_ns"] = lifetime.closed_ns - lifetime.opened_ns
        record["duration_seconds"] = record["duration_ns"] / 1e9
    subject = _opened_subject(opened) if opened is not None else _closed_subject(closed)
    record.update((name, value) for name, value in subject.items() if value is not None and value not in ABSENT)
    if opened is not None:
        record.update(_object_and_access(opened, lifetime.used_mask, lifetime.access_count))
        record["open_record_id"] = _text(opened.record_id)
    if closed is not None:
        record["close_record_id"] = _text(closed.system.get("EventRecordID"))
    return {name: value for name, value in record.items() if value is not None}


def _opened_subject(opened: Opened) -> Dict[str, Optional[str]]:
    user = opened.user or ""
    domain, _, name = user.rpartition("\\")
    return {"user_sid": opened.user_sid, "user_name": name or None, "user_domain": domain or None,
            "logon_id": opened.logon_id, "process_executable": opened.process,
            "process_name": basename(opened.process) if opened.process else None}


def _closed_subject(closed: Event) -> Dict[str, Optional[str]]:
    data = closed.data
    process = data.get("ProcessName")
    return {"user_sid": data.get("SubjectUserSid"), "user_name": data.get("SubjectUserName"),
            "user_domain": data.get("SubjectDomainName"), "logon_id": data.get("SubjectLogonId"),
            "process_executable": process, "process_name": basename(process) if process and process not in ABSENT else None}


def _object_and_access(opened: Opened, used_mask: int, access_count: int) -> Dict[str, Any]:
    object_type = opened.object_type
    fields: Dict[str, Any] = {"object_server": opened.object_server, "object_type": object_type,
                              "object_name": opened.object_name,
                              "object_basename": basename(opened.object_name) if opened.object_name else None}
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
    return {name: value for name, value in fields.items() if value is not None and value not in ABSENT}


def _text(value: object) -> Optional[str]:
    return None if value is None or value == "" else str(value)
