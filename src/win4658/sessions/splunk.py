"""Handle sessions in Splunk: a scheduled search (shipped disabled) that builds the sessions from the events with
streamstats (no transaction) in the log's order, and writes them with ``collect`` to a summary index under their
own sourcetype, plus the search-time knowledge of that sourcetype.

The pairing is hunt's (detections/lifetime.py): events in the log's order (detections/spl_order.py); a 4656 that
did not fail and whose HandleId is not 0x0 starts a new generation of its (dest, process_id, HandleId); in a
generation the accesses up to the first 4658 belong to the open, that 4658 closes it, and any later 4658 (or one
before any open) is a close without an open; a generation without a close is reused before close when a later
one exists, else open at the end. Fields are the CIM names of mappings/session.yml (times as epoch seconds,
Splunk's own form). The search is kept as its
commands, so the tests can replay each one (tests/test_sessions_splunk.py).
"""
from typing import List

from ..detections.fields import installed
from ..detections.spl_order import Commands, handle_events, log_order, opens, spl_pipeline
from ..quoting import spl_string

SEARCH_NAME = "win4658_handle_sessions"
SOURCETYPE = "win4658:handle_session"
SUMMARY_INDEX_MACRO = "win4658_sessions_index"
SUMMARY_INDEX = "summary"
EVENTTYPE = "win4658_handle_session"
CRON_SCHEDULE = "5 * * * *"
KEY = "dest process_id HandleId"
# the event fields the search reads, by their CIM names in the installed mapping (not yet the checkout's Sources)
_CIM = installed("cim")

# (command, arguments): the search, one command at a time
COMMANDS: Commands = [
    ("search", handle_events(_CIM)),
    *log_order(_CIM),
    ("eval", "win4658_open=if(EventCode==4656, 1, 0), win4658_close=if(EventCode==4658, 1, 0)"),
    ("where", f"EventCode!=4656 OR ({opens(_CIM)})"),
    ("streamstats", f"sum(win4658_open) AS win4658_generation BY {KEY}"),
    ("streamstats", f"current=f sum(win4658_close) AS win4658_closes_before BY {KEY} win4658_generation"),
    ("streamstats", "count AS win4658_serial"),
    ("eval", "win4658_closes_before=coalesce(win4658_closes_before, 0), "
             "win4658_unmatched=if(win4658_close==1 AND (win4658_generation==0 OR win4658_closes_before>0), 1, 0), "
             "win4658_session=if(win4658_unmatched==1, \"close-\" . win4658_serial, win4658_generation)"),
    ("where", "win4658_unmatched==1 OR (win4658_generation>0 AND win4658_closes_before==0)"),
    ("stats", "max(win4658_open) AS win4658_opened "
              "max(eval(if(EventCode==4656, _time, null()))) AS win4658_start "
              "max(eval(if(EventCode==4658, _time, null()))) AS win4658_end "
              "count(eval(EventCode==4663)) AS handle_access_count "
              "values(eval(if(EventCode==4663, AccessMask, null()))) AS handle_access_used_masks "
              "first(AccessMask) AS handle_access_requested_mask "
              "max(eval(if(EventCode==4656, win4658_record, null()))) AS handle_open_record_id "
              "max(eval(if(EventCode==4658, win4658_record, null()))) AS handle_close_record_id "
              "first(user) AS user first(user_id) AS user_id first(src_nt_domain) AS src_nt_domain "
              "first(session_id) AS session_id first(process_path) AS process_path "
              "first(process_name) AS process_name first(ObjectServer) AS handle_object_server "
              "first(ObjectType) AS object_category first(ObjectName) AS object_path first(object) AS object "
              f"BY {KEY} win4658_session win4658_generation"),
    ("eventstats", f"max(win4658_generation) AS win4658_last BY {KEY}"),
    ("eval", "handle_ending=case(win4658_opened==0, \"close_without_open\", isnotnull(win4658_end), \"closed\", "
             "win4658_generation<win4658_last, \"reused_before_close\", true(), \"open_at_end\"), "
             "duration=win4658_end-win4658_start, handle_start=win4658_start, handle_end=win4658_end, "
             "handle_id=HandleId, handle_process_id_hex=printf(\"0x%x\", process_id), "
             "vendor_product=\"Microsoft Windows\", _time=coalesce(win4658_end, win4658_start)"),
    ("fields", "- HandleId win4658_*"),
    ("collect", f"index=`{SUMMARY_INDEX_MACRO}` sourcetype={spl_string(SOURCETYPE)}"),
]


def session_search(commands: Commands = COMMANDS) -> str:
    return spl_pipeline(commands)


def saved_search_stanza() -> str:
    return (f"[{SEARCH_NAME}]\n"
            "description = Handle sessions: one summary event per handle (its 4656, the 4663 accesses, its 4658), "
            f"sourcetype {SOURCETYPE}, written to the index of the macro {SUMMARY_INDEX_MACRO}. Paired as "
            "`win4658 hunt` and `win4658 convert --to sessions` pair. The hourly run reads the last 24 hours, so "
            "a handle is summarised again while its events stay in that window; search the sessions with "
            f"eventtype={EVENTTYPE} and dedup on dest, process_id, handle_id, handle_start.\n"
            f"search = {session_search()}\n"
            "disabled = 1\n"
            "enableSched = 1\n"
            f"cron_schedule = {CRON_SCHEDULE}\n"
            "dispatch.earliest_time = -24h@h\n"
            "dispatch.latest_time = now\n")


def splunk_macros() -> List[str]:
    return [f"[{SUMMARY_INDEX_MACRO}]\ndefinition = {SUMMARY_INDEX}\niseval = 0\n"
            "description = win4658: the summary index the handle-session search writes to (collect)\n"]


def splunk_saved_searches() -> List[str]:
    return [saved_search_stanza()]


def splunk_props() -> List[str]:
    return [(f"[{SOURCETYPE}]\n"
            "# summary events written by the saved search win4658_handle_sessions (collect: key=value text)\n"
            "KV_MODE = auto\n"
            "SHOULD_LINEMERGE = false\n")]


def splunk_eventtypes() -> List[str]:
    return [f"[{EVENTTYPE}]\nsearch = sourcetype={spl_string(SOURCETYPE)}\n"]
