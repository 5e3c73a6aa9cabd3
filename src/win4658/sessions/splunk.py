"""Handle sessions in Splunk: a scheduled search (shipped disabled) that builds the sessions from the events with
streamstats (no transaction) in the log's order, and writes them with ``collect`` to a summary index under their
own sourcetype, plus the search-time knowledge of that sourcetype and the access-rights lookup it names masks with.

The pairing is hunt's (detections/lifetime.py): events in the log's order (detections/spl_order.py); a 4656 that
did not fail and whose HandleId is not 0x0 starts a new generation of its (dest, process_id, HandleId); in a
generation the accesses up to the first 4658 belong to the open, that 4658 closes it, and any later 4658 (or one
before any open) is a close without an open; a generation without a close is reused before close when a later
one exists, else open at the end. Fields and values are those of the local session's CIM form
(mappings/session.yml, sessions/fields.py): times as ISO-8601 UTC to the microsecond (the arithmetic of the macro
win4658_iso_time, whatever the search's time zone), durations in seconds (``duration``) and nanoseconds, masks in
hex and named by object type through the lookup win4658_access_rights (generated from mappings/access_rights.yml).
The bitwise eval functions (bit_and, bit_or) are documented from Splunk 9.2 on, not in 9.0/9.1, so bits are tested as
floor(mask / 2^bit) % 2 and the 4663 masks are or-ed one bit at a time (max of each bit). Multivalue fields are
written space-joined and split again at search time (props.conf), so they do not depend on how collect writes
multivalue fields. Each hourly run pairs over 24 hours but writes only the sessions that ended in its last hour and
those still open whose open is in its first (WRITTEN_THIS_RUN), so each session is written once. The search is kept
as its commands, so the tests can replay each one (tests/sessions/test_splunk.py).
"""

import csv
import io
from typing import Any, Dict, List

from ..detections.fields import FieldNames, installed, parsed
from ..detections.spl_order import Commands, handle_events, handle_key, log_order, opens, spl_pipeline
from ..quoting import spl_string
from .access import AccessRights, bit_names
from .fields import cim_names, session_spec

SEARCH_NAME = "win4658_handle_sessions"
SOURCETYPE = "win4658:handle_session"
SUMMARY_INDEX_MACRO = "win4658_sessions_index"
SUMMARY_INDEX = "summary"
EVENTTYPE = "win4658_handle_session"
EVENTTYPE_TAGS = ("resource", "access")
CRON_SCHEDULE = "5 * * * *"
PERIOD_SECONDS = 3600  # between two runs of CRON_SCHEDULE; the time range is snapped to it (@h)
EARLIEST_TIME, LATEST_TIME = "-24h@h", "@h"
ACCESS_RIGHTS_LOOKUP = "win4658_access_rights"
ACCESS_RIGHTS_FILE = f"{ACCESS_RIGHTS_LOOKUP}.csv"
ANY_OBJECT_TYPE = "*"  # the lookup's last row: the standard and generic rights of a type no table names
MASK_BITS = 32  # an ACCESS_MASK is 32 bits wide
BIT_COLUMN = "win4658_bit_{}"
ACCESS_NAMES_MACRO = "win4658_access_names"
ISO_TIME_MACRO = "win4658_iso_time"
# what a search of the sessions starts from: the summary events, wherever the macro says they are written
SUMMARY_EVENTS = f"index=`{SUMMARY_INDEX_MACRO}` eventtype={EVENTTYPE}"
# the session fields (mappings/session.yml) a finding or a table of sessions shows
SHOWN_FIELDS = (
    "host",
    "user_name",
    "process_executable",
    "process_id",
    "handle_id",
    "object_type",
    "object_name",
    "access_requested",
    "access_used",
    "start",
    "end",
    "duration_seconds",
)
# the session fields (session.yml) that hold several values
MULTIVALUE_FIELDS = ("access_requested", "access_used", "privileges")
MULTIVALUE_SEPARATOR = " "  # access names, hex bits and privilege names hold no space
# session fields (session.yml) of who and which process, as the open shows them (the close, when there is no open)
SUBJECT_FIELDS = ("user_name", "user_sid", "user_domain", "logon_id", "process_executable", "process_name")
# session fields of the object, as the open's EventData names it (a 4658 names no object)
OBJECT_FIELDS = ("object_server", "object_type", "object_name", "object_basename")
# session fields of the handle's key, in the order of its event fields (spl_order.handle_key)
KEY_FIELDS = ("host", "process_id", "handle_id")


def _bit_is_set(mask: str, bit: int) -> str:
    return f"floor({mask}/{1 << bit})%2"


def _if_present(field: str, expression: str) -> str:
    return f"if(isnull({field}), null(), {expression})"


def _hex(field: str) -> str:
    return _if_present(field, f'printf("0x%x", {field})')


# the 4663 masks or-ed: each bit's maximum over the accesses, then the bits summed
USED_BITS = " ".join(f"max(eval({_bit_is_set('win4658_used', bit)})) AS win4658_used_{bit}" for bit in range(MASK_BITS))
USED_MASK = "+".join(f"win4658_used_{bit}*{1 << bit}" for bit in range(MASK_BITS))


# Each session is written by one run only: the run whose last period holds the time its ending became known (the
# close; for a reused handle the next open), or, for a handle still open, the run whose first period holds its open
# (the last run that sees it; its close, if any, comes after every later window begins: a close without an open).
# Consecutive runs' time ranges (snapped to the period) move by one period, so their last periods tile the time.
def _written_this_run(ending: str) -> str:
    """The sessions this run writes; ``ending``: the CIM name of the session's ending."""
    return (
        f'({ending}=="open_at_end" AND win4658_start_us<(info_min_time+{PERIOD_SECONDS})*1000000) OR '
        f'({ending}!="open_at_end" AND coalesce(win4658_end_us, win4658_next_start)'
        f">=(info_max_time-{PERIOD_SECONDS})*1000000)"
    )


def _event_name(cim: FieldNames, event_field: str, raw: bool = False) -> str:
    """The CIM name of an event field as session.yml writes it (``basename(EventData.ProcessName)``); ``raw``: an
    untransformed field as the raw EventData keeps it."""
    transform, field = parsed(event_field)
    if transform:
        return cim.transformed(field, transform)
    return cim.raw(field) if raw else cim(field)


def commands(cim: FieldNames, spec: Dict[str, Any]) -> Commands:
    """(command, arguments): the search, one command at a time, reading the events' fields by their names in ``cim``
    and writing the sessions' by their CIM names in ``spec`` (session.yml, resolved)."""
    fields = {field["name"]: field for field in spec["fields"]}
    session = cim_names(spec)
    requested, used = session["access_requested"], session["access_used"]
    event_keys = handle_key(cim)
    _host, process, _handle = event_keys
    key = " ".join(event_keys)
    # the key's event fields the session names otherwise (session.yml): copied to the session's name, then dropped
    renamed_keys = {session[name]: event for name, event in zip(KEY_FIELDS, event_keys) if session[name] != event}
    return [
        ("search", handle_events(cim)),
        *log_order(cim),
        (
            "eval",
            "win4658_open=if(EventCode==4656, 1, 0), win4658_close=if(EventCode==4658, 1, 0), "
            "win4658_mask_text=trim(AccessMask), "
            'win4658_mask=if(match(win4658_mask_text, "^0[xX]"), '
            "tonumber(substr(win4658_mask_text, 3), 16), tonumber(win4658_mask_text)), "
            "win4658_used=if(EventCode==4663, win4658_mask, null()), win4658_us=round(_time*1000000)",
        ),
        ("where", f"EventCode!=4656 OR ({opens(cim)})"),
        ("streamstats", f"sum(win4658_open) AS win4658_generation BY {key}"),
        ("streamstats", f"current=f sum(win4658_close) AS win4658_closes_before BY {key} win4658_generation"),
        ("streamstats", "count AS win4658_serial"),
        (
            "eval",
            "win4658_closes_before=coalesce(win4658_closes_before, 0), "
            "win4658_unmatched=if(win4658_close==1 AND (win4658_generation==0 OR win4658_closes_before>0), 1, 0), "
            'win4658_session=if(win4658_unmatched==1, "close-" . win4658_serial, win4658_generation)',
        ),
        ("where", "win4658_unmatched==1 OR (win4658_generation>0 AND win4658_closes_before==0)"),
        (
            "stats",
            "max(win4658_open) AS win4658_opened "
            "max(eval(if(EventCode==4656, win4658_us, null()))) AS win4658_start_us "
            "max(eval(if(EventCode==4658, win4658_us, null()))) AS win4658_end_us "
            f"count(eval(EventCode==4663)) AS {session['access_count']} "
            "max(eval(if(EventCode==4656, win4658_mask, null()))) AS win4658_requested "
            f"{USED_BITS} "
            "first(eval(if(EventCode==4656, PrivilegeList, null()))) AS win4658_privileges "
            f"max(eval(if(EventCode==4656, win4658_record, null()))) AS {session['open_record_id']} "
            f"max(eval(if(EventCode==4658, win4658_record, null()))) AS {session['close_record_id']} "
            + " ".join(
                "first(eval(if(EventCode==4656 OR win4658_unmatched==1, "
                f"{_event_name(cim, fields[name]['event_field'])}, null()))) AS {session[name]}"
                for name in SUBJECT_FIELDS
            )
            + " "
            # (the local session takes no ObjectServer of a 4658 either)
            + " ".join(
                "first(eval(if(EventCode==4656, "
                f"{_event_name(cim, fields[name]['event_field'], raw=True)}, null()))) "
                f"AS {session[name]}"
                for name in OBJECT_FIELDS
            )
            + " "
            f"BY {key} win4658_session win4658_generation",
        ),
        # the start of the handle's next generation: the time a reused one was found reused
        ("sort", f"0 {key} -win4658_generation"),
        ("streamstats", f"current=f last(win4658_start_us) AS win4658_next_start BY {key}"),
        (
            "eval",
            f'{session["ending"]}=case(win4658_opened==0, "close_without_open", isnotnull(win4658_end_us), "closed", '
            'isnotnull(win4658_next_start), "reused_before_close", true(), "open_at_end"), '
            f"win4658_used=if({session['access_count']}>0, coalesce({USED_MASK}, 0), null()), "
            f"{session['access_requested_mask']}={_hex('win4658_requested')}, "
            f"{session['access_used_mask']}={_hex('win4658_used')}, "
            f"{session['duration_ns']}=(win4658_end_us-win4658_start_us)*1000, "
            f"{session['duration_seconds']}=(win4658_end_us-win4658_start_us)/1000000, "
            f"`{ISO_TIME_MACRO}(win4658_start_us, {session['start']})`, "
            f"`{ISO_TIME_MACRO}(win4658_end_us, {session['end']})`, "
            # PrivilegeList: names separated by white space, "-" for none
            'win4658_privileges=trim(replace(win4658_privileges, "[[:space:]]+", " ")), '
            f'{session["privileges"]}=if(win4658_privileges=="-" OR win4658_privileges=="", null(), '
            "win4658_privileges), "
            + "".join(f"{name}={event}, " for name, event in renamed_keys.items())
            + f'{session["process_id_hex"]}=printf("0x%x", {process}), '
            f'win4658_rights_type=coalesce({session["object_type"]}, "-"), '
            + "".join(f"{name}={spl_string(value)}, " for name, value in spec["cim_constants"].items())
            + "_time=coalesce(win4658_end_us, win4658_start_us)/1000000",
        ),
        ("addinfo", ""),
        ("where", _written_this_run(session["ending"])),
        ("lookup", f"{ACCESS_RIGHTS_LOOKUP} object_type AS win4658_rights_type"),
        (
            "eval",
            f"`{ACCESS_NAMES_MACRO}(win4658_requested, {requested})`, "
            f"`{ACCESS_NAMES_MACRO}(win4658_used, {used})`, "
            f"{requested}=mvjoin({requested}, {spl_string(MULTIVALUE_SEPARATOR)}), "
            f"{used}=mvjoin({used}, {spl_string(MULTIVALUE_SEPARATOR)})",
        ),
        ("fields", " ".join(["-", *renamed_keys.values(), "win4658_*", "info_*"])),
        ("collect", f"index=`{SUMMARY_INDEX_MACRO}` sourcetype={spl_string(SOURCETYPE)}"),
    ]


# the search as the installed mappings name the fields (the tests replay it); generation builds it from the
# checkout's Sources
COMMANDS: Commands = commands(installed("cim"), session_spec())


def access_rights_lookup(rights: AccessRights) -> str:
    """The lookup win4658_access_rights: per object type the name of each bit of the mask, then the row of any other
    type (the standard and generic rights alone)."""
    _standard, by_type = rights
    output = io.StringIO()
    writer = csv.writer(output, lineterminator="\n")
    writer.writerow(["object_type"] + [BIT_COLUMN.format(bit) for bit in range(MASK_BITS)])
    for object_type in [*by_type, ANY_OBJECT_TYPE]:
        writer.writerow(
            [object_type] + bit_names(rights, None if object_type == ANY_OBJECT_TYPE else object_type, MASK_BITS)
        )
    return output.getvalue()


def _access_names_definition() -> str:
    """Assignments naming the bits of the mask, named rights lowest bit first, then the unnamed bits in hex (as
    sessions/access.py names them), from the columns the lookup win4658_access_rights gave the session."""
    bits = ", ".join(
        f"if({_bit_is_set('$mask$', bit)}==1, {BIT_COLUMN.format(bit)}, null())" for bit in range(MASK_BITS)
    )
    return (
        f"$names$=mvappend({bits}), "
        '$names$=mvappend(mvfilter(NOT match($names$, "^0x")), mvfilter(match($names$, "^0x")))'
    )


def _iso_time_definition() -> str:
    """Assignments writing epoch microseconds as ISO-8601 UTC (times.format_ns), by the civil-from-days arithmetic
    (H. Hinnant's algorithm), so the text does not depend on the time zone the search runs in."""
    return (
        "win4658_iso_s=floor($microseconds$/1000000), win4658_iso_z=floor(win4658_iso_s/86400)+719468, "
        "win4658_iso_era=floor(win4658_iso_z/146097), win4658_iso_doe=win4658_iso_z-win4658_iso_era*146097, "
        "win4658_iso_yoe=floor((win4658_iso_doe-floor(win4658_iso_doe/1460)+floor(win4658_iso_doe/36524)"
        "-floor(win4658_iso_doe/146096))/365), "
        "win4658_iso_doy=win4658_iso_doe-(365*win4658_iso_yoe+floor(win4658_iso_yoe/4)"
        "-floor(win4658_iso_yoe/100)), "
        "win4658_iso_mp=floor((5*win4658_iso_doy+2)/153), "
        "win4658_iso_month=if(win4658_iso_mp<10, win4658_iso_mp+3, win4658_iso_mp-9), "
        f"$time$={_if_present('$microseconds$', _ISO_PRINTF)}"
    )


_ISO_PRINTF = (
    'printf("%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", '
    "win4658_iso_yoe+win4658_iso_era*400+if(win4658_iso_month<=2, 1, 0), win4658_iso_month, "
    "win4658_iso_doy-floor((153*win4658_iso_mp+2)/5)+1, floor((win4658_iso_s%86400)/3600), "
    "floor((win4658_iso_s%3600)/60), win4658_iso_s%60, $microseconds$%1000000)"
)


def session_search(commands: Commands = COMMANDS) -> str:
    return spl_pipeline(commands)


def saved_search_stanza(search: str) -> str:
    return (
        f"[{SEARCH_NAME}]\n"
        "description = Handle sessions: one summary event per handle (its 4656, the 4663 accesses, its 4658), "
        f"sourcetype {SOURCETYPE}, written to the index of the macro {SUMMARY_INDEX_MACRO}. Paired as "
        "`win4658 hunt` and `win4658 convert --to sessions` pair. Each hourly run pairs over the 24 hours before "
        "the hour it runs in and writes the sessions that ended in the last of those hours (closed, reused, "
        "closes without an open) and those still open whose open is in the first (they leave the window): "
        f"each session is written once, so search them with eventtype={EVENTTYPE}, no dedup needed. "
        "Continuous scheduling: a delayed run still covers its own hour.\n"
        f"search = {search}\n"
        "disabled = 1\n"
        "enableSched = 1\n"
        f"cron_schedule = {CRON_SCHEDULE}\n"
        "realtime_schedule = 0\n"
        f"dispatch.earliest_time = {EARLIEST_TIME}\n"
        f"dispatch.latest_time = {LATEST_TIME}\n"
    )


def splunk_macros() -> List[str]:
    return [
        f"[{SUMMARY_INDEX_MACRO}]\ndefinition = {SUMMARY_INDEX}\niseval = 0\n"
        "description = win4658: the summary index the handle-session search writes to (collect)\n",
        f"[{ACCESS_NAMES_MACRO}(2)]\nargs = mask, names\ndefinition = {_access_names_definition()}\niseval = 0\n"
        "description = win4658: eval assignments setting the field names to the rights of the number mask, "
        f"from the win4658_bit_* fields of the lookup {ACCESS_RIGHTS_LOOKUP} (lookup it first on the object "
        "type)\n",
        f"[{ISO_TIME_MACRO}(2)]\nargs = microseconds, time\ndefinition = {_iso_time_definition()}\niseval = 0\n"
        "description = win4658: eval assignments setting the field time to the epoch microseconds as ISO-8601 "
        "UTC (2015-09-22T00:15:42.910428Z) in any time zone; uses win4658_iso_* working fields\n",
    ]


def splunk_saved_searches(cim: FieldNames, spec: Dict[str, Any]) -> List[str]:
    return [saved_search_stanza(session_search(commands(cim, spec)))]


def splunk_props(session: Dict[str, str]) -> List[str]:
    """``session``: the CIM name of each session field, as the summary events hold it."""
    splits = "".join(
        f"EVAL-{session[name]} = split({session[name]}, {spl_string(MULTIVALUE_SEPARATOR)})\n"
        for name in MULTIVALUE_FIELDS
    )
    return [
        (
            f"[{SOURCETYPE}]\n"
            "# summary events written by the saved search win4658_handle_sessions (collect: key=value text)\n"
            "KV_MODE = auto\n"
            "SHOULD_LINEMERGE = false\n"
            "# the multivalue fields, written space-joined\n"
            f"{splits}"
        )
    ]


def splunk_transforms() -> List[str]:
    return [
        f"[{ACCESS_RIGHTS_LOOKUP}]\nfilename = {ACCESS_RIGHTS_FILE}\n"
        f"match_type = WILDCARD(object_type)\nmax_matches = 1\n"
    ]


def splunk_tags() -> List[str]:
    return ["\n".join([f"[eventtype={EVENTTYPE}]", *(f"{tag} = enabled" for tag in EVENTTYPE_TAGS)]) + "\n"]


def splunk_eventtypes() -> List[str]:
    return [f"[{EVENTTYPE}]\nsearch = sourcetype={spl_string(SOURCETYPE)}\n"]
