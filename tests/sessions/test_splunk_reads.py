"""What reads the handle sessions in Splunk: the lifetime detection over the sessions and the "Handle sessions"
dashboard, replayed over the summary events the scheduled session search writes for each corpus file
(tests/support/sessions_replay.py's replay, with the sourcetype's search-time EVALs), agree with the local sessions
and with hunt's lifetime findings.

The first command is matched by tests/support/spl_search.py's BaseSearch after the add-on's macros are expanded;
after it, the replay's commands plus table, head, fields (a list kept) and timechart span=1h count BY field (events
counted per hour bucket of _time and value).
"""

import configparser
import math
import os
from collections import Counter, defaultdict

import pytest

from tests.support.paths import CORPUS_FILES, ROOT, corpus_path
from tests.support.sessions_replay import (
    COMMANDS,
    comparable,
    corpus_rows,
    expected_summary,
    local_sessions,
    replayed_sessions,
    split_top_level,
    summary_event,
)
from tests.support.spl_search import BaseSearch, expand_macro_calls, fields_used, trace_selection
from win4658.detections import splunk as detection_searches
from win4658.detections.definitions import by_kind, load_bundle
from win4658.detections.lifetime import CLOSED
from win4658.detections.local_hunt import Hunt
from win4658.detections.spl_order import spl_pipeline
from win4658.sessions import splunk as session_splunk
from win4658.sessions.fields import cim_names, session_spec
from win4658.splunk import dashboards
from win4658.times import time_ns

DETECTIONS = load_bundle()
LIFETIME = by_kind(DETECTIONS)["handle_lifetime"]
SESSIONS_VIEW = dashboards.handle_sessions(cim_names(session_spec()))
SESSION_FIELDS = {field["cim"] for field in session_spec()["fields"]} | set(session_spec()["cim_constants"])
SAVED = configparser.ConfigParser(interpolation=None, strict=True, delimiters=("=",))
SAVED.optionxform = str
SAVED.read(os.path.join(ROOT, "addon", "default", "savedsearches.conf"), encoding="utf-8")
THRESHOLDS = (0.5, 60)  # seconds: the corpus has closed sessions above each, none within a microsecond of either


# --- the replay of a search over summary events ---------------------------------------------------------------


def _table(rows, arguments):
    names = arguments.split()
    return [{name: row[name] for name in names if name in row} for row in rows]


def _fields(rows, arguments):
    return COMMANDS["fields"](rows, arguments) if arguments.startswith("- ") else _table(rows, arguments)


def _timechart(rows, arguments):
    """timechart span=1h count BY field: one row per hour bucket of _time, the count of each value (0 where none)."""
    assert arguments.startswith("span=1h count BY "), arguments
    field = arguments.split()[-1]
    counts = defaultdict(Counter)
    for row in rows:
        counts[math.floor(row["_time"] / 3600) * 3600][str(row.get(field, "NULL"))] += 1
    values = sorted({value for counter in counts.values() for value in counter})
    return [{"_time": bucket, **{value: counts[bucket][value] for value in values}} for bucket in sorted(counts)]


REPLAYED = {
    **COMMANDS,
    "table": _table,
    "head": lambda rows, arguments: rows[: int(arguments)],
    "fields": _fields,
    "timechart": _timechart,
}


def _search(rows, arguments):
    """search after a pipe (a _filter macro's ``search *``): the rows its terms match."""
    if arguments == "*":
        return rows
    selection = BaseSearch(arguments)
    return [row for row in rows if selection.matches(row)]


REPLAYED["search"] = _search


def _commands(search):
    """A search's text, its macros expanded, as (command, arguments), the first one the implicit search."""
    first, *rest = split_top_level(search, "|")
    return [("search", expand_macro_calls(first))] + [
        tuple(f"{expand_macro_calls(part.strip())} ".split(" ", 1)) for part in rest
    ]


def run(search, rows, threshold=None):
    """The search over the summary events; the long-handle macro set to ``threshold`` where given."""
    if threshold is not None:
        search = search.replace(f"`{detection_searches.LONG_HANDLE_MACRO}`", repr(threshold))
    rows = [dict(row) for row in rows]
    for command, arguments in _commands(search):
        rows = REPLAYED[command](rows, arguments.strip())
        rows = [{name: value for name, value in row.items() if value is not None} for row in rows]
    return rows


def summary_index(relative):
    """The summary events of one corpus file as a search of the summary index returns them."""
    return [
        dict(
            summary_event(row),
            _time=row["_time"],
            index=session_splunk.SUMMARY_INDEX,
            eventtype=session_splunk.EVENTTYPE,
            sourcetype=session_splunk.SOURCETYPE,
        )
        for row in replayed_sessions(relative)
    ]


def _local(relative):
    """The local sessions as Splunk holds them (the CIM form, times and durations to the microsecond)."""
    return [expected_summary(record) for record in local_sessions(corpus_path(*relative.split("/")))]


CORPUS = [entry["file"] for entry in CORPUS_FILES]


# --- the detection --------------------------------------------------------------------------------------------


def test_the_shipped_session_detection_is_generated_from_the_lifetime_definition():
    stanza = SAVED[detection_searches.sessions_stanza_name(LIFETIME)]
    search = stanza["search"]
    assert (
        search == f"{spl_pipeline(detection_searches.lifetime_session_commands(cim_names(session_spec())))} "
        f"| `{LIFETIME.id}{detection_searches.SESSIONS_SUFFIX}_filter`"
    )
    assert search.startswith(f"index=`{session_splunk.SUMMARY_INDEX_MACRO}` eventtype={session_splunk.EVENTTYPE} ")
    assert f"`{detection_searches.LONG_HANDLE_MACRO}`" in search  # the threshold the search-time one uses
    assert stanza["disabled"] == "1" and stanza["enableSched"] == "1"
    # after the session search has written the last hour; the session's key suppresses the overlap of two runs
    assert (stanza["cron_schedule"], session_splunk.CRON_SCHEDULE) == ("15 * * * *", "5 * * * *")
    assert (stanza["dispatch.earliest_time"], stanza["dispatch.latest_time"]) == ("-2h@h", "@h")
    assert (stanza["alert.suppress"], stanza["alert.suppress.period"]) == ("1", "2h")
    table = search.split("| table ")[1].split(" |")[0].split()
    assert stanza["alert.suppress.fields"].split(",") == ["dest", "process_id", "handle_id", "handle_start"]
    assert set(stanza["alert.suppress.fields"].split(",")) <= set(table) <= SESSION_FIELDS | {"_time"}
    # the search-time detection's annotations and risk, under a label of its own
    search_time = SAVED[detection_searches.stanza_name(LIFETIME)]
    for key in ("action.correlationsearch.annotations", "action.risk.param._risk", "alert.severity"):
        assert stanza[key] == search_time[key]
    assert stanza["action.correlationsearch.label"] == f"win4658 - {LIFETIME.title} (handle sessions) - Rule"
    assert search_time["action.correlationsearch.label"] != stanza["action.correlationsearch.label"]
    for message_field in ("dest", "user", "process_path"):
        assert f"${message_field}$" in stanza["action.risk.param._risk_message"] and message_field in table
    # which one to enable: this with the session search, or the search-time one without
    assert f"saved search {session_splunk.SEARCH_NAME} writes" in stanza["description"]
    assert f"{LIFETIME.id}, which pairs the events at search time" in stanza["description"]
    macros = configparser.RawConfigParser(interpolation=None, strict=False, delimiters=("=",))
    macros.read(os.path.join(ROOT, "addon", "default", "macros.conf"), encoding="utf-8")
    assert macros.get(f"{detection_searches.sessions_stanza_name(LIFETIME)}_filter", "definition") == "search *"


def _hunt_long_handles(path, threshold):
    """hunt's lifetime findings: (host, pid, handle, close time to the microsecond)."""
    hunt = Hunt(long_handle_seconds=threshold)
    return sorted(
        (finding.host, int(finding.process_id, 16), finding.handle_id, time_ns(finding.time) // 1000)
        for finding in hunt.run([path])
        if getattr(finding, "detection", None) == LIFETIME.id
    )


@pytest.mark.parametrize("relative", CORPUS)
def test_the_session_detection_finds_hunts_long_handles(relative):
    search = SAVED[detection_searches.sessions_stanza_name(LIFETIME)]["search"]
    summary = summary_index(relative)
    for threshold in THRESHOLDS:
        found = sorted(
            (row["dest"], int(row["process_id"]), row["handle_id"], time_ns(row["handle_end"]) // 1000)
            for row in run(search, summary, threshold)
        )
        assert found == _hunt_long_handles(corpus_path(*relative.split("/")), threshold)


def test_the_session_detection_finds_long_handles_on_the_corpus():
    """The thresholds select sessions: the comparison above is not between empty lists."""
    search = SAVED[detection_searches.sessions_stanza_name(LIFETIME)]["search"]
    found = {
        threshold: sum(len(run(search, summary_index(relative), threshold)) for relative in CORPUS)
        for threshold in THRESHOLDS
    }
    assert found == {0.5: 16, 60: 3}


# --- the dashboard --------------------------------------------------------------------------------------------

PANELS = {
    panel.title: search
    for panel, search in zip([p for row in SESSIONS_VIEW.rows for p in row], dashboards.panel_searches(SESSIONS_VIEW))
}


def test_the_sessions_dashboard_reads_only_session_fields_and_is_in_the_nav():
    for title, search in PANELS.items():
        if title.startswith("Handle trace"):
            continue
        used = fields_used(search) - dashboards.SESSION_DERIVED_FIELDS - {"_time", "index", "eventtype", "span"}
        assert used <= SESSION_FIELDS, (title, used - SESSION_FIELDS)
    with open(os.path.join(ROOT, dashboards.NAV), encoding="utf-8") as stream:
        assert f'<view name="{dashboards.SESSIONS_VIEW}" />' in stream.read()


@pytest.mark.parametrize("relative", CORPUS)
def test_the_sessions_dashboard_panels_agree_with_the_local_sessions(relative):
    summary, local = summary_index(relative), _local(relative)
    closed = [session for session in local if session["handle_ending"] == CLOSED]
    # how they ended: the hourly counts add up to the local counts by ending
    by_ending = Counter()
    for bucket in run(PANELS["Sessions by ending"], summary):
        by_ending.update({value: count for value, count in bucket.items() if value != "_time"})
    assert +by_ending == Counter(session["handle_ending"] for session in local)
    # the object types, most sessions first (a close without an open names none)
    object_types = Counter(session["object_category"] for session in local if "object_category" in session)
    shown = [(row["object_category"], row["count"]) for row in run(PANELS["Object types"], summary)]
    assert [count for _type, count in shown] == sorted(object_types.values(), reverse=True)[:10]
    assert all(object_types[object_type] == count for object_type, count in shown)
    # the longest closed sessions, with every column
    longest = run(PANELS["Longest sessions"], summary)
    assert [row["duration"] for row in longest] == sorted((s["duration"] for s in closed), reverse=True)[:20]
    for row in longest:
        assert comparable(row) in [
            comparable({name: value for name, value in session.items() if name in row}) for session in closed
        ]
        assert set(row) <= set(PANELS["Longest sessions"].split("| table ")[1].split())
    # per process: how many closed sessions, their mean and longest duration
    per_process = defaultdict(list)
    for session in closed:
        per_process[session["dest"], session["process_path"]].append(session["duration"])
    rows = run(PANELS["Durations per process"], summary)
    for row in rows:  # the processes with the most sessions (which of equal counts make the 50 is Splunk's choice)
        durations = per_process[row["dest"], row["process_path"]]
        assert (row["sessions"], row["avg_seconds"], row["max_seconds"]) == (
            len(durations),
            pytest.approx(sum(durations) / len(durations)),
            max(durations),
        )
    assert [row["sessions"] for row in rows] == sorted(map(len, per_process.values()), reverse=True)[:50]
    assert len(rows) == min(50, len(per_process))


def test_a_longest_session_drills_down_to_its_trace():
    """The row's dest, process_id and handle_id set the trace tokens; the trace finds the session's events."""
    panel = next(p for row in SESSIONS_VIEW.rows for p in row if p.title == "Longest sessions")
    assert panel.drilldown_to_trace and panel.trace_fields == ("dest", "process_id", "handle_id")
    relative = "json/cmd_dumping_ntds_dit_file_ntdsutil.zip"
    top = run(PANELS["Longest sessions"], summary_index(relative))[0]
    selection = trace_selection(top["dest"], top["process_id"], top["handle_id"])
    indexed = [dict(row, index="wineventlog", sourcetype="XmlWinEventLog") for row in corpus_rows(relative)]
    events = [row for row in indexed if selection.matches(row)]
    assert len(events) >= 2 and {row["EventCode"] for row in events} >= {"4656", "4658"}
