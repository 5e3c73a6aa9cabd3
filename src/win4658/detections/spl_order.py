"""The log's own order in SPL (DESIGN.md "Pairing order"), shared by every Splunk search that pairs handles: the
lifetime detection and the dashboards' lifetime panels (detections/splunk.py) and the handle-session search
(sessions/splunk.py). It orders as timeline.py does for hunt: by time, then source, host and the log's record
number (`<EventRecordID>` of XmlWinEventLog, NXLog's RecordNumber), else the position the event was indexed at
(`_cd`) in the direction the source runs (its times going down more often than up: newest first). Searches are
kept as (command, arguments) lists, so the tests can replay each command (tests/sessions/test_splunk.py).
"""

from typing import List, Tuple

from ..quoting import spl_string
from .fields import HANDLE_KEY, FieldNames
from .lifetime import ZERO_HANDLES

Commands = List[Tuple[str, str]]
HANDLE_CODES = "(EventCode=4656 OR EventCode=4663 OR EventCode=4658)"
RECORD_REGEX = r"<EventRecordID>(?<win4658_record>\d+)</EventRecordID>"


def handle_key(cim: FieldNames) -> List[str]:
    return [cim(field) for field in HANDLE_KEY]


def handle_events(cim: FieldNames) -> str:
    """The 4656, 4663 and 4658 events that name a handle."""
    _host, process, handle = handle_key(cim)
    return f"`win4658_events` {HANDLE_CODES} {process}=* {handle}=*"


def opens(cim: FieldNames) -> str:
    """A 4656 that opens a handle (lifetime.opens_handle): not failed, HandleId not 0x0."""
    outcome, handle = cim.transformed("System.Keywords", "lookup"), cim("EventData.HandleId")
    return (
        f'EventCode==4656 AND (isnull({outcome}) OR {outcome}!="failure") AND NOT in({handle}, '
        + ", ".join(map(spl_string, ZERO_HANDLES))
        + ")"
    )


def log_order(cim: FieldNames) -> Commands:
    """After these, the events are in the log's order (win4658_rank: the record number, else the signed position)."""
    return [
        ("rex", f'field=_raw "{RECORD_REGEX}"'),
        (
            "eval",
            "win4658_record=tonumber(coalesce(win4658_record, RecordNumber)), "
            'win4658_position=tonumber(mvindex(split(_cd, ":"), 0)) * 1000000000000 '
            '+ tonumber(mvindex(split(_cd, ":"), 1))',
        ),
        ("sort", "0 source win4658_position"),
        ("streamstats", "current=f last(_time) AS win4658_previous BY source"),
        ("eval", "win4658_step=case(_time>win4658_previous, 1, _time<win4658_previous, -1, true(), 0)"),
        ("eventstats", "sum(win4658_step) AS win4658_direction BY source"),
        (
            "eval",
            "win4658_rank=coalesce(win4658_record, if(win4658_direction<0, 0 - win4658_position, win4658_position))",
        ),
        ("sort", f"0 _time source {cim('System.Computer')} win4658_rank"),
    ]


def spl_pipeline(commands: Commands) -> str:
    """The search text: the first command's arguments (the implicit search), then each command after a pipe."""
    first, *rest = commands
    return " | ".join([first[1]] + [f"{command} {arguments}".rstrip() for command, arguments in rest])
