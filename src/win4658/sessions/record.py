"""A handle's Lifetime as the canonical session record: the field names of mappings/session.yml."""

from functools import lru_cache
from typing import Any, Dict, Optional, Tuple

from ..detections.lifetime import Lifetime, Opened, mask_number
from ..times import format_ns
from ..transforms import basename
from .access import access_names

# a log names a few hundred processes and objects millions of times
cached_basename = lru_cache(maxsize=8192)(basename)


def session_record(lifetime: Lifetime) -> Dict[str, Any]:
    """Every field the handle's events show; absent values are left out."""
    opened, closed = lifetime.opened, lifetime.closed
    host, process_number, handle_id = lifetime.key
    record: Dict[str, Any] = {}
    opened_ns, closed_ns = lifetime.opened_ns, lifetime.closed_ns
    if opened_ns is not None:
        record["start"] = format_ns(opened_ns)
    if closed_ns is not None:
        record["end"] = format_ns(closed_ns)
        if opened_ns is not None:
            record["duration_ns"] = duration = closed_ns - opened_ns
            record["duration_seconds"] = duration / 1e9
    record["ending"] = lifetime.ending
    if host is not None:
        record["host"] = host
    record["process_id"] = process_number
    record["process_id_hex"] = hex(process_number)
    record["handle_id"] = handle_id
    record["access_count"] = lifetime.access_count
    if opened is not None:
        domain, name = user_parts(opened.user)
        _add_subject(record, opened.user_sid, name, domain, opened.logon_id, opened.process)
        _add_object_and_access(record, opened, lifetime.used_mask, lifetime.access_count)
        if opened.record_id is not None and opened.record_id != "":
            record["open_record_id"] = str(opened.record_id)
    if closed is not None:
        if opened is None:
            data = closed.data
            _add_subject(
                record,
                data.get("SubjectUserSid"),
                data.get("SubjectUserName"),
                data.get("SubjectDomainName"),
                data.get("SubjectLogonId"),
                data.get("ProcessName"),
            )
        record_id = closed.system.get("EventRecordID")
        if record_id is not None and record_id != "":
            record["close_record_id"] = str(record_id)
    return record


@lru_cache(maxsize=4096)
def user_parts(user: Optional[str]) -> Tuple[str, str]:
    """(domain, name) of 'DOMAIN\\name' (a log names a few hundred users)."""
    domain, _, name = (user or "").rpartition("\\")
    return domain, name


@lru_cache(maxsize=1024)
def privilege_names(text: Optional[str]) -> Tuple[str, ...]:
    privileges = tuple((text or "").split())
    return () if privileges == ("-",) else privileges


def _add_present(record: Dict[str, Any], fields: Tuple[Tuple[str, Optional[str]], ...]) -> None:
    """Each (name, value) whose value is present: "-" counts as absent, as an empty value does."""
    for name, value in fields:
        if value and value != "-":
            record[name] = value


def _add_subject(
    record: Dict[str, Any],
    sid: Optional[str],
    name: Optional[str],
    domain: Optional[str],
    logon_id: Optional[str],
    process: Optional[str],
) -> None:
    """Who and which process: from the open, or from the close when there was no open."""
    _add_present(
        record,
        (
            ("user_sid", sid),
            ("user_name", name),
            ("user_domain", domain),
            ("logon_id", logon_id),
            ("process_executable", process),
        ),
    )
    if "process_executable" in record:
        record["process_name"] = cached_basename(process)


def _add_object_and_access(record: Dict[str, Any], opened: Opened, used_mask: int, access_count: int) -> None:
    object_type, object_name = opened.object_type, opened.object_name
    _add_present(
        record,
        (("object_server", opened.object_server), ("object_type", object_type), ("object_name", object_name)),
    )
    if "object_name" in record:
        record["object_basename"] = cached_basename(object_name)
    try:
        requested = mask_number(opened.access_mask)
    except ValueError:
        requested = None
    if requested is not None:
        record["access_requested_mask"] = hex(requested)
        record["access_requested"] = list(access_names(object_type, requested))
    if access_count:
        record["access_used_mask"] = hex(used_mask)
        record["access_used"] = list(access_names(object_type, used_mask))
    privileges = privilege_names(opened.privileges)
    if privileges:
        record["privileges"] = list(privileges)
