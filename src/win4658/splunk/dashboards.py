"""The add-on's dashboards (Simple XML 1.1) and its navigation, generated from the panels defined here.

Every panel search starts from the add-on's macros (`win4658_events`, the trace macro) or from a detection's own
search, and reads only fields the add-on's knowledge produces; derived fields are named in DERIVED_FIELDS.
"Handle activity" shows what is closed and found, the handle lifetimes and, on a click on a finding or a handle,
its trace; "Audit volume" shows which hosts and processes make the 4656/4658/4663 volume; "Handle sessions" reads
the summary events of the handle-session search instead of pairing at search time.
"""

import xml.etree.ElementTree as ET
from typing import Dict, List, NamedTuple, Optional, Sequence

from ..detections import splunk as detection_searches
from ..detections.definitions import Detection
from ..detections.fields import FieldNames
from ..detections.lifetime import CLOSED as CLOSED_ENDING
from ..detections.spl_order import handle_key
from ..sessions import splunk as session_searches

VIEWS_DIR = "addon/default/data/ui/views"
NAV = "addon/default/data/ui/nav/default.xml"
TIME_TOKEN = "time"
TRACE_TOKENS = ("trace_dest", "trace_pid", "trace_handle")
HANDLE_EVENTS = "`win4658_events` (EventCode=4656 OR EventCode=4658 OR EventCode=4663)"
CLOSED = "`win4658_events` EventCode=4658"
# Fields the panels compute themselves (beside the add-on's and the detections' own)
DERIVED_FIELDS = frozenset(
    {"detection", "duration", "handles", "median_seconds", "p95_seconds", "max_seconds", "Total", "count"}
)


class Panel(NamedTuple):
    title: str
    query: str
    visualization: str  # "chart" or "table"
    chart: str = ""  # charting.chart: line, column, bar, pie
    base: Optional[str] = None  # id of the base search this post-processes
    drilldown_to_trace: bool = False
    depends: str = ""
    trace_fields: Sequence[str] = ()  # the row's fields the trace tokens take, else the dashboard's


class Dashboard(NamedTuple):
    name: str
    label: str
    description: str
    base_searches: Dict[str, str]
    rows: List[List[Panel]]
    trace_fields: Sequence[str] = ()  # the fields of a row that set TRACE_TOKENS when a panel drills down


def finding_columns(cim: FieldNames) -> str:
    return f"detection {detection_searches.evidence(cim)}"


def lifetime_columns(cim: FieldNames) -> str:
    return f"{detection_searches.evidence(cim)} object_type object_name duration_seconds"


def findings_search(detections: List[Detection], cim: FieldNames) -> str:
    """Every alerting detection's search, each row labelled with its detection, appended into one."""
    searches = [
        f"{detection_searches.search(detection, cim)} | eval detection={_label(detection)}"
        for detection in detections
        if detection.kind != "handle_trace"
    ]
    appended = "".join(f" | append [search {search}]" for search in searches[1:])
    return f"{searches[0]}{appended} | table {finding_columns(cim)}"


def _label(detection: Detection) -> str:
    return detection_searches.spl_string(f"{detection.number}. {detection.title}")


def trace_search() -> str:
    arguments = ",".join(f"${token}$" for token in TRACE_TOKENS)
    return f"`{detection_searches.TRACE_MACRO}({arguments})`"


def handle_activity(detections: List[Detection], cim: FieldNames) -> Dashboard:
    host, path = cim("System.Computer"), cim("EventData.ProcessName")
    name = cim.transformed("EventData.ProcessName", "basename")
    duration = (
        'eval duration=case(duration_seconds<1, "1. under a second", duration_seconds<60, '
        '"2. under a minute", duration_seconds<3600, "3. under an hour", true(), "4. an hour or more") '
        "| stats count BY duration"
    )
    return Dashboard(
        "win4658_handle_activity",
        "Handle activity",
        "Handles closed (4658), the findings of the win4658 detections, and how long handles stay open. Click a "
        "finding or a handle to see its trace.",
        {
            "findings": findings_search(detections, cim),
            "lifetimes": f"{detection_searches.lifetime_pairs(cim)} | table {lifetime_columns(cim)}",
        },
        [
            [
                Panel("Handles closed by host", f"{CLOSED} | timechart count BY {host}", "chart", "line"),
                Panel("Handles closed by process", f"{CLOSED} | timechart count BY {name}", "chart", "line"),
            ],
            [
                Panel(
                    "Findings per detection",
                    "stats count BY detection | sort 0 detection",
                    "chart",
                    "bar",
                    base="findings",
                ),
                Panel("Findings", "sort 0 - _time", "table", base="findings", drilldown_to_trace=True),
            ],
            [
                Panel(
                    "Handle trace: handle $trace_handle$ of process $trace_pid$ on $trace_dest$",
                    trace_search(),
                    "table",
                    depends="$trace_handle$",
                )
            ],
            [
                Panel("Handle durations", duration, "chart", "column", base="lifetimes"),
                Panel(
                    "Longest handles",
                    "sort 0 - duration_seconds | head 20",
                    "table",
                    base="lifetimes",
                    drilldown_to_trace=True,
                ),
            ],
            [
                Panel(
                    "Handle lifetimes per process",
                    "stats count AS handles median(duration_seconds) AS median_seconds "
                    "perc95(duration_seconds) AS p95_seconds max(duration_seconds) AS max_seconds "
                    f"BY {host} {path} | sort 0 - handles",
                    "table",
                    base="lifetimes",
                )
            ],
        ],
        handle_key(cim),
    )


def audit_volume(cim: FieldNames) -> Dashboard:
    host, path = cim("System.Computer"), cim("EventData.ProcessName")
    return Dashboard(
        "win4658_audit_volume",
        "Audit volume",
        "How many 4656 (requested), 4658 (closed) and 4663 (accessed) events each host and process sends: the "
        "processes to filter at the source, 4656 and 4658 together (docs/splunk.md, 'Volume').",
        {},
        [
            [Panel("Events by event code", f"{HANDLE_EVENTS} | timechart count BY EventCode", "chart", "column")],
            [
                Panel(
                    "Hosts",
                    f"{HANDLE_EVENTS} | chart count OVER {host} BY EventCode | addtotals | sort 0 - Total | head 50",
                    "table",
                ),
                Panel(
                    "Processes",
                    f"{HANDLE_EVENTS} | chart count OVER {path} BY EventCode | addtotals | sort 0 - Total | head 50",
                    "table",
                ),
            ],
        ],
    )


# The handle sessions dashboard reads the summary events of the saved search win4658_handle_sessions (each session
# written once, at the time it ended), by the session fields' CIM names (mappings/session.yml)
SESSIONS_VIEW = "win4658_sessions"
SESSION_BASE_FIELDS = ("ending", *session_searches.SHOWN_FIELDS)
SESSION_TRACE_FIELDS = ("host", "process_id", "handle_id")
# Fields the session panels compute
SESSION_DERIVED_FIELDS = frozenset({"sessions", "avg_seconds", "max_seconds", "count"})


def handle_sessions(session: Dict[str, str]) -> Dashboard:
    """``session``: the CIM name of each session field, as the summary events hold it."""
    ending, duration = session["ending"], session["duration_seconds"]
    closed = f'where {ending}=="{CLOSED_ENDING}"'
    return Dashboard(
        SESSIONS_VIEW,
        "Handle sessions",
        "One row per handle, from its open (4656) to its close (4658), as the saved search "
        f"{session_searches.SEARCH_NAME} writes them (enable it first): how they ended over time, on which objects, "
        "the longest, and per process. Click a session to see its trace.",
        {
            "sessions": f"{session_searches.SUMMARY_EVENTS} | fields _time "
            + " ".join(session[name] for name in SESSION_BASE_FIELDS)
        },
        [
            [Panel("Sessions by ending", f"timechart span=1h count BY {ending}", "chart", "column", base="sessions")],
            [
                Panel(
                    "Object types",
                    f"stats count BY {session['object_type']} | sort 0 -count | head 10",
                    "chart",
                    "bar",
                    base="sessions",
                ),
                Panel(
                    "Durations per process",
                    f"{closed} | stats count AS sessions avg({duration}) AS avg_seconds max({duration}) AS max_seconds "
                    f"BY {session['host']} {session['process_executable']} | sort 0 -sessions | head 50",
                    "table",
                    base="sessions",
                ),
            ],
            [
                Panel(
                    "Longest sessions",
                    f"{closed} | sort 0 -{duration} | head 20 | table "
                    + " ".join(session[name] for name in session_searches.SHOWN_FIELDS),
                    "table",
                    base="sessions",
                    drilldown_to_trace=True,
                    trace_fields=tuple(session[name] for name in SESSION_TRACE_FIELDS),
                )
            ],
            [
                Panel(
                    "Handle trace: handle $trace_handle$ of process $trace_pid$ on $trace_dest$",
                    trace_search(),
                    "table",
                    depends="$trace_handle$",
                )
            ],
        ],
    )


def dashboards(detections: List[Detection], cim: FieldNames, session: Dict[str, str]) -> List[Dashboard]:
    """The dashboards; ``session``: the CIM name of each session field (the handle sessions dashboard)."""
    return [handle_activity(detections, cim), audit_volume(cim), handle_sessions(session)]


def panel_searches(dashboard: Dashboard) -> List[str]:
    """Each panel's whole search: a post-process search with its base search in front."""
    return [
        f"{dashboard.base_searches[panel.base]} | {panel.query}" if panel.base else panel.query
        for row in dashboard.rows
        for panel in row
    ]


def view_xml(dashboard: Dashboard) -> str:
    root = ET.Element("dashboard", version="1.1", theme="light")
    ET.SubElement(root, "label").text = dashboard.label
    ET.SubElement(root, "description").text = dashboard.description
    for name, query in dashboard.base_searches.items():
        _search(root, query, search_id=name)
    fieldset = ET.SubElement(root, "fieldset", submitButton="false", autoRun="true")
    time_input = ET.SubElement(fieldset, "input", type="time", token=TIME_TOKEN, searchWhenChanged="true")
    ET.SubElement(time_input, "label").text = "Time"
    default = ET.SubElement(time_input, "default")
    ET.SubElement(default, "earliest").text = "-24h@h"
    ET.SubElement(default, "latest").text = "now"
    for row in dashboard.rows:
        row_element = ET.SubElement(root, "row")
        for panel in row:
            _panel(row_element, panel, dashboard.trace_fields)
    ET.indent(root, space="  ")
    return ET.tostring(root, encoding="unicode") + "\n"


def _search(parent: ET.Element, query: str, search_id: str = "", base: str = "") -> None:
    attributes = {**({"id": search_id} if search_id else {}), **({"base": base} if base else {})}
    search = ET.SubElement(parent, "search", attributes)
    ET.SubElement(search, "query").text = query
    if not base:
        ET.SubElement(search, "earliest").text = f"${TIME_TOKEN}.earliest$"
        ET.SubElement(search, "latest").text = f"${TIME_TOKEN}.latest$"


def _panel(row: ET.Element, panel: Panel, trace_fields: Sequence[str]) -> None:
    panel_element = ET.SubElement(row, "panel", {"depends": panel.depends} if panel.depends else {})
    ET.SubElement(panel_element, "title").text = panel.title
    element = ET.SubElement(panel_element, panel.visualization)
    _search(element, panel.query, base=panel.base or "")
    if panel.visualization == "chart":
        ET.SubElement(element, "option", name="charting.chart").text = panel.chart
    else:
        ET.SubElement(element, "option", name="count").text = "20"
        ET.SubElement(element, "option", name="drilldown").text = "row" if panel.drilldown_to_trace else "none"
    if panel.drilldown_to_trace:
        drilldown = ET.SubElement(element, "drilldown")
        for token, field in zip(TRACE_TOKENS, panel.trace_fields or trace_fields):
            ET.SubElement(drilldown, "set", token=token).text = f"$row.{field}$"


def nav_xml(views: List[Dashboard]) -> str:
    nav = ET.Element("nav", search_view="search", color="#1A6B8F")
    for position, view in enumerate(views):
        ET.SubElement(nav, "view", {"name": view.name, **({"default": "true"} if position == 0 else {})})
    ET.SubElement(nav, "view", name="search")
    ET.indent(nav, space="  ")
    return ET.tostring(nav, encoding="unicode") + "\n"
