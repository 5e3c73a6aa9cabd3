"""The Splunk handle-session search pairs as the local sessions do, and three ways agree on the corpus.

Splunk is not available here, so the search is replayed: the corpus events are rendered as XmlWinEventLog and
given the add-on's search-time fields (test_splunk_knowledge.search_time_fields), then each command of the
search (win4658.sessions.splunk.COMMANDS, the text savedsearches.conf holds) runs with its documented semantics:
search's field filter, where and eval through an evaluator of the SPL expressions used (null propagates,
numbers compare as numbers, mvappend skips nulls, mvfilter keeps the values of its one field the predicate holds
for), macros with arguments expanded from macros.conf, rex with PCRE2, sort 0 (numbers numerically, text
lexically), streamstats and eventstats (running or whole-group sum/count/max per BY group, current=f excludes the
event), stats (groups with every BY field present; first of the events that have the field, max/count/values,
eval(...) arguments), lookup (transforms.conf's match_type WILDCARD and max_matches over the CSV in file order),
fields -, and collect as the output, read back with the sourcetype's search-time EVALs. Splunk keeps an event's
time to the microsecond; so does the replay.
The EQL sequence of the lifetime rule runs with the eql package (its own engine) over the ECS events in the
log's order. With WIN4658_SPLUNK_URL set, tests/live/test_sessions_splunk_live.py runs the search, collect
included, on a real Splunk and compares the summary events the same way.
"""

import configparser
import fnmatch
import functools
import math
import os
import re
from collections import defaultdict

import pcre2
import pytest

from tests.detections.test_lifetime import EXPECTED_PAIRS
from tests.splunk.test_knowledge import FUNCTIONS as KNOWLEDGE_FUNCTIONS
from tests.splunk.test_knowledge import SplExpression, search_time_fields
from tests.support.paths import CORPUS_FILES, ROOT, corpus_path
from tests.support.spl_search import expand_macro_calls, generated_conf, lookup_table
from win4658.artifacts import ADDON_DEFAULT
from win4658.detections.definitions import load_bundle
from win4658.detections.fields import installed
from win4658.detections.kibana import query, rule
from win4658.detections.splunk import lifetime_commands
from win4658.detections.timeline import TimeOrder, record_number
from win4658.event import Event
from win4658.normalize import to_ecs
from win4658.readers import read_paths
from win4658.sessions import splunk as session_splunk
from win4658.sessions.access import access_names, access_rights
from win4658.sessions.fields import session_spec, to_cim
from win4658.sessions.stream import handle_sessions, session_hunt
from win4658.splunk.runtime.render import render_event_xml
from win4658.times import time_ns

HANDLE_EVENTS = frozenset({4656, 4658, 4663})
CIM, ECS = installed("cim"), installed("ecs")

# --- an evaluator of the SPL expressions the search uses: test_splunk_knowledge's, with NOT, ordering
# comparisons, arithmetic, "." and the functions below ------------------------------------------------------------
TOKEN = re.compile(
    r'\s*(?:(?P<string>"(?:[^"\\]|\\.)*")|(?P<number>\d+(?:\.\d+)?)|(?P<op>==|!=|>=|<=|[()<>,.+*/%-])|'
    r"(?P<word>[A-Za-z_][A-Za-z0-9_]*))"
)
OPERATIONS = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
}


def _number(value):
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    try:
        return float(value) if "." in str(value) else int(str(value))
    except (TypeError, ValueError):
        return None


def _comparable(a, b):
    """Splunk compares as numbers when both sides are numbers, else as text."""
    if _number(a) is not None and _number(b) is not None:
        return _number(a), _number(b)
    return str(a), str(b)


def _binary(left, right, combine):
    def evaluate(f):
        a, b = left(f), right(f)
        return None if a is None or b is None else combine(a, b)

    return evaluate


class Expression(SplExpression):
    def __init__(self, text):  # not super().__init__: its tokens are those of the add-on's EVALs only
        matches = list(TOKEN.finditer(text.rstrip()))
        assert sum(match.end() - match.start() for match in matches) == len(text.rstrip()), f"cannot read SPL {text!r}"
        self.tokens = [(match.lastgroup, match.group(match.lastgroup)) for match in matches]
        self.position, self.functions, self.referenced = 0, set(), []
        self.evaluate = self._or()
        assert self.position == len(self.tokens), self.tokens[self.position :]

    def _comparison(self):
        if self._peek() == ("word", "NOT"):
            self._take()
            inner = self._comparison()
            return lambda f: None if inner(f) is None else not inner(f)
        left = self._arithmetic()
        operator = self._peek()[1]
        if operator not in OPERATIONS:
            return left
        self._take()
        return _binary(left, self._arithmetic(), lambda a, b: OPERATIONS[operator](*_comparable(a, b)))

    def _arithmetic(self):
        left = self._product()
        while self._peek()[1] in ("+", "-", "."):
            operator = self._take()[1]
            left = _binary(
                left,
                self._product(),
                {
                    "+": lambda a, b: _number(a) + _number(b),
                    "-": lambda a, b: _number(a) - _number(b),
                    ".": lambda a, b: f"{a}{b}",
                }[operator],
            )
        return left

    def _product(self):
        left = self._term()
        while self._peek()[1] in ("*", "/", "%"):
            operator = self._take()[1]
            left = _binary(
                left,
                self._term(),
                {
                    "*": lambda a, b: _number(a) * _number(b),
                    "/": lambda a, b: _number(a) / _number(b),
                    "%": lambda a, b: _number(a) % _number(b),
                }[operator],
            )
        return left

    def _term(self):
        if self._peek() == ("op", "-"):
            self._take()
            negated = self._term()
            return lambda f: None if negated(f) is None else -_number(negated(f))
        kind, value = self._peek()
        if kind == "number":  # whole or decimal
            self._take()
            return lambda f: _number(value)
        following = self.tokens[self.position + 1] if self.position + 1 < len(self.tokens) else (None, None)
        if kind == "word" and following != ("op", "("):
            self.referenced.append(value)
        return super()._term()

    def _call(self, name):
        if name != "mvfilter":
            return super()._call(name)
        # mvfilter(predicate): the values of the one field the predicate reads for which it is true
        start = len(self.referenced)
        self._take("(")
        predicate = self._or()
        self._take(")")
        (field,) = set(self.referenced[start:])
        return lambda f: _multivalue([value for value in _values(f.get(field)) if predicate({**f, field: value})])

    @staticmethod
    def function_table():
        return FUNCTIONS


def _values(value):
    """A field's values: a multivalue field is a list here, a single value itself, null None."""
    return [] if value is None else value if isinstance(value, list) else [value]


def _multivalue(values):
    """Values as a field: none is null, one is a single value (Splunk does not tell one value from a list of one)."""
    return None if not values else values[0] if len(values) == 1 else values


def _printf(arguments):
    def evaluate(f):
        values = [argument(f) for argument in arguments]
        if any(value is None for value in values):
            return None
        return values[0] % tuple(_number(value) for value in values[1:])

    return evaluate


# the knowledge evaluator's functions where they are the same, then those only the session searches use
FUNCTIONS = {
    **{
        name: KNOWLEDGE_FUNCTIONS[name]
        for name in ("if", "case", "true", "null", "isnull", "in", "match", "replace", "substr", "tonumber")
    },
    "isnotnull": lambda a: lambda f: a[0](f) is not None,
    "coalesce": lambda a: lambda f: next((value for value in (x(f) for x in a) if value is not None), None),
    "printf": _printf,
    "split": lambda a: lambda f: None if a[0](f) is None else _multivalue(str(a[0](f)).split(a[1](f))),
    "mvindex": lambda a: lambda f: None if a[0](f) is None else _values(a[0](f))[a[1](f)],
    "mvappend": lambda a: lambda f: _multivalue([value for x in a for value in _values(x(f))]),
    "mvjoin": lambda a: lambda f: None if a[0](f) is None else a[1](f).join(map(str, _values(a[0](f)))),
    # trim(X): spaces and tabs off both ends
    "trim": lambda a: lambda f: None if a[0](f) is None else str(a[0](f)).strip(" \t"),
    "floor": lambda a: lambda f: None if a[0](f) is None else math.floor(_number(a[0](f))),
    # round(X): half away from zero
    "round": lambda a: (
        lambda f: (
            None if a[0](f) is None else int(math.copysign(math.floor(abs(_number(a[0](f))) + 0.5), _number(a[0](f))))
        )
    ),
}


# --- the commands -----------------------------------------------------------------------------------------------


def _split_top_level(text, separator=","):
    parts, depth, current, quoted = [], 0, "", False
    for index, character in enumerate(text):
        if character == '"' and (index == 0 or text[index - 1] != "\\"):
            quoted = not quoted
        if not quoted:
            depth += {"(": 1, ")": -1}.get(character, 0)
            if character == separator and depth == 0:
                parts.append(current.strip())
                current = ""
                continue
        current += character
    return parts + [current.strip()] if current.strip() else parts


def _aggregations(text):
    """'f(arg) AS name …  [BY a b]' → ([(function, argument or None, name)], by fields, options)."""
    text, _, by = text.partition(" BY ")
    options = dict(re.findall(r"^(?:(\w+)=(\S+)\s+)", text))
    text = re.sub(r"^(?:\w+=\S+\s+)+", "", text)
    aggregations, position = [], 0
    while position < len(text):
        function = re.match(r"\s*(\w+)", text[position:])
        position += function.end()
        argument = None
        if text.startswith("(", position):
            depth, start = 0, position
            while True:
                depth += {"(": 1, ")": -1}.get(text[position], 0)
                position += 1
                if depth == 0:
                    break
            argument = text[start + 1 : position - 1]
        name = re.match(r"\s+AS\s+(\w+)\s*", text[position:])
        position += name.end() if name else len(re.match(r"\s*", text[position:]).group())
        # without AS, Splunk names the result after the call: count, max(x)
        default = function.group(1) if argument is None else f"{function.group(1)}({argument})"
        aggregations.append((function.group(1), argument, name.group(1) if name else default))
    return aggregations, by.split(), options


@functools.lru_cache(maxsize=None)
def _argument_value(argument):
    if argument is None:
        return lambda row: 1
    if argument.startswith("eval("):
        expression = Expression(argument[5:-1])
        return expression.evaluate
    return lambda row: row.get(argument)


def _search(rows, arguments):
    assert arguments.startswith("`win4658_events` (EventCode=4656 OR EventCode=4663 OR EventCode=4658)")
    assert arguments.endswith("process_id=* HandleId=*")
    return [
        row
        for row in rows
        if row.get("EventCode") in ("4656", "4663", "4658")
        and row.get("process_id") is not None
        and row.get("HandleId") is not None
    ]


def _where(rows, arguments):
    expression = Expression(arguments)
    return [row for row in rows if expression.evaluate(row)]


def _rex(rows, arguments):
    field, pattern = re.fullmatch(r'field=(\w+) "(.*)"', arguments).groups()
    regex = pcre2.compile(pattern)
    for row in rows:
        match = regex.search(row.get(field) or "")
        if match:
            row.update(match.groupdict())
    return rows


def _eval(rows, arguments):
    assignments = [
        (part.split("=", 1)[0].strip(), Expression(part.split("=", 1)[1])) for part in _split_top_level(arguments)
    ]
    for row in rows:
        for name, expression in assignments:
            row[name] = expression.evaluate(row)
    return rows


def _sort(rows, arguments):
    """sort 0 a -b: stable, by each field in turn (numbers numerically, before text), ``-`` descending."""
    limit, *fields = arguments.split()
    assert limit == "0"
    for field in reversed(fields):  # stable sorts, least significant field first
        name = field.lstrip("-")

        def key(row, name=name):
            value = row.get(name)
            assert value is not None, (name, row)
            return (0, _number(value), "") if _number(value) is not None else (1, 0, str(value))

        rows = sorted(rows, key=key, reverse=field.startswith("-"))
    return rows


def _running(function, values):
    present = [_number(value) for value in values if value is not None]
    if function == "count":
        return len(values)
    if function == "last":
        return values[-1] if values else None
    if not present:
        return None
    return {"sum": sum, "max": max, "avg": lambda numbers: sum(numbers) / len(numbers)}[function](present)


def _streamstats(rows, arguments):
    """Running aggregates per BY group, in the events' order; current=f gives each event those before it;
    window=N aggregates the group's last N events only."""
    aggregations, by, options = _aggregations(arguments)
    current = options.get("current", "t") != "f"
    if "window" in options:
        return _windowed_streamstats(rows, aggregations, by, current, int(options["window"]))
    running = defaultdict(dict)  # group → name → (count of values, last value, sum of numbers or None)
    for row in rows:
        state = running[tuple(row.get(field) for field in by)]
        for function, argument, name in aggregations:
            value = _argument_value(argument)(row)
            before = state.get(name, (0, None, None))
            count, last, total = before
            if value is not None:
                number = _number(value)
                after = (count + 1, value, number if total is None else total + number)
            else:
                after = before
            state[name] = after
            count, last, total = after if current else before
            row[name] = {"count": count, "last": last, "sum": total}[function]
    return rows


def _windowed_streamstats(rows, aggregations, by, current, window):
    recent = defaultdict(list)  # group → the rows of its last `window` events
    for row in rows:
        group = recent[tuple(row.get(field) for field in by)]
        visible = (group + [row])[-window:] if current else group
        results = {
            name: _running(function, [value for value in map(_argument_value(argument), visible) if value is not None])
            for function, argument, name in aggregations
        }
        group.append(dict(row))
        del group[:-window]
        row.update(results)
    return rows


def _eventstats(rows, arguments):
    aggregations, by, _options = _aggregations(arguments)
    groups = defaultdict(list)
    for row in rows:
        groups[tuple(row.get(field) for field in by)].append(row)
    for members in groups.values():
        for function, argument, name in aggregations:
            result = _running(function, [_argument_value(argument)(row) for row in members])
            for row in members:
                row[name] = result
    return rows


def _stats(rows, arguments):
    aggregations, by, _options = _aggregations(arguments)
    groups = defaultdict(list)
    for row in rows:
        group = tuple(row.get(field) for field in by)
        if None not in group:
            groups[group].append(row)
    output = []
    for group, members in groups.items():
        result = dict(zip(by, group))
        for function, argument, name in aggregations:
            values = [_argument_value(argument)(row) for row in members]
            if function == "count":
                result[name] = sum(1 for value in values if value)  # count(eval(x)): events where x is true
            elif function == "first":  # the first event that has the field
                result[name] = next((value for value in values if value is not None), None)
            elif function == "values":
                result[name] = sorted({str(value) for value in values if value is not None}) or None
            else:
                result[name] = _running(function, values)
        output.append({name: value for name, value in result.items() if value is not None})
    return output


def _fields(rows, arguments):
    assert arguments.startswith("- ")
    patterns = arguments[2:].split()
    return [
        {name: value for name, value in row.items() if not any(fnmatch.fnmatchcase(name, p) for p in patterns)}
        for row in rows
    ]


def _lookup(rows, arguments):
    """lookup NAME column AS field: the first max_matches rows of the table (file order) whose column matches the
    field (WILDCARD columns: * matches any text), every other column of them written to the event."""
    name, column, field = re.fullmatch(r"(\w+) (\w+) AS (\w+)", arguments).groups()
    table, wildcards, max_matches = lookup_table(name)
    pattern_of = (
        (lambda text: re.compile(".*".join(map(re.escape, text.split("*"))) + r"\Z"))
        if column in wildcards
        else (lambda text: re.compile(re.escape(text) + r"\Z"))
    )
    patterns = [pattern_of(entry[column]) for entry in table]
    for row in rows:
        if row.get(field) is None:
            continue
        matches = [entry for entry, pattern in zip(table, patterns) if pattern.match(str(row[field]))][:max_matches]
        for output in (key for key in (table[0] if table else {}) if key != column):
            row[output] = _multivalue([entry[output] for entry in matches if entry[output] != ""])
    return rows


def _addinfo(time_range):
    """addinfo: the search's time range on every result (info_min_time, info_max_time: epoch seconds)."""

    def add(rows, _arguments):
        assert time_range is not None, "addinfo needs the run's time range"
        return [dict(row, info_min_time=time_range[0], info_max_time=time_range[1]) for row in rows]

    return add


COMMANDS = {
    "search": _search,
    "lookup": _lookup,
    "where": _where,
    "rex": _rex,
    "eval": _eval,
    "sort": _sort,
    "streamstats": _streamstats,
    "eventstats": _eventstats,
    "stats": _stats,
    "fields": _fields,
    "collect": lambda rows, arguments: rows,
}


def replay(rows, commands=session_splunk.COMMANDS, time_range=None):
    """The commands over the rows (the events of the time range [earliest, latest), which addinfo reports)."""
    for command, arguments in commands:
        run = _addinfo(time_range) if command == "addinfo" else COMMANDS[command]
        rows = run(rows, arguments if command == "search" else expand_macro_calls(arguments))
        rows = [{name: value for name, value in row.items() if value is not None} for row in rows]
    return rows


# the scheduled search's time range: the RANGE_PERIODS periods before the period it runs in
PERIOD = session_splunk.PERIOD_SECONDS
RANGE_PERIODS = 24
assert (session_splunk.EARLIEST_TIME, session_splunk.LATEST_TIME) == (f"-{RANGE_PERIODS}h@h", "@h")
assert session_splunk.CRON_SCHEDULE.endswith(" * * * *") and PERIOD == 3600


def scheduled_runs(rows, commands=session_splunk.COMMANDS):
    """What every hourly run writes, from the first whose range holds an event to the last: each run's search
    over the events of its range. The pairing (the commands before addinfo) is replayed once per set of events."""
    split = [command for command, _arguments in commands].index("addinfo")
    times = [row["_time"] for row in rows]
    first_latest = (math.floor(min(times) / PERIOD) + 1) * PERIOD
    last_latest = (math.floor(max(times) / PERIOD) + RANGE_PERIODS) * PERIOD
    paired, written = {}, []
    for latest in range(first_latest, last_latest + 1, PERIOD):
        earliest = latest - RANGE_PERIODS * PERIOD
        in_range = tuple(index for index, time in enumerate(times) if earliest <= time < latest)
        if in_range not in paired:
            paired[in_range] = replay([dict(rows[index]) for index in in_range], commands[:split])
        written += replay([dict(row) for row in paired[in_range]], commands[split:], (earliest, latest))
    return written


# --- events as Splunk holds them ------------------------------------------------------------------------------


def _events(path):
    return [result for result in read_paths([path], HANDLE_EVENTS) if isinstance(result, Event)]


def _search_time_rows(events):
    rows = []
    for event in events:
        raw = render_event_xml(event)
        fields = search_time_fields(raw, "XmlWinEventLog", "XmlWinEventLog:Security")
        # Splunk keeps an event's time to the microsecond
        fields.update(
            _raw=raw, _time=time_ns(event.system["TimeCreated"]) // 1000 / 1e6, source="XmlWinEventLog:Security"
        )
        rows.append(fields)
    return rows


def _indexed(rows):
    """The events as indexed from one file, in its order (_cd: bucket and offset, growing with the file)."""
    return [dict(row, _cd=f"7:{1000 + 16 * position}") for position, row in enumerate(rows)]


def _pairs_of_splunk(rows):
    return sorted(
        (
            row["dest"],
            row["process_id"],
            row["handle_id"],
            row["handle_ending"],
            str(row.get("handle_open_record_id", "")),
            str(row.get("handle_close_record_id", "")),
            round(row["duration"], 6) if "duration" in row else None,
            row["handle_access_count"],
            row["handle_process_id_hex"],
        )
        for row in rows
    )


def _local_sessions(path):
    return [item for item in handle_sessions([path], session_hunt(10_000, 50_000)) if isinstance(item, dict)]


def _pairs_of_local(records):
    return sorted(
        (
            record["host"],
            record["process_id"],
            record["handle_id"],
            record["ending"],
            record.get("open_record_id", ""),
            record.get("close_record_id", ""),
            round(record["duration_seconds"], 6) if "duration_seconds" in record else None,
            record["access_count"],
            record["process_id_hex"],
        )
        for record in records
    )


# --- the tests --------------------------------------------------------------------------------------------------


def test_the_shipped_search_is_the_one_replayed():
    saved = configparser.ConfigParser(interpolation=None, delimiters=("=",))
    saved.optionxform = str
    saved.read(os.path.join(ROOT, "addon", "default", "savedsearches.conf"), encoding="utf-8")
    stanza = saved[session_splunk.SEARCH_NAME]
    assert stanza["search"] == session_splunk.session_search()
    assert (stanza["disabled"], stanza["enableSched"]) == ("1", "1")
    assert 'collect index=`win4658_sessions_index` sourcetype="win4658:handle_session"' in stanza["search"]
    assert "transaction" not in stanza["search"]


def test_the_replay_on_a_hand_made_sequence():
    """Open, access, close, a second close, open-close in one millisecond twice (the Exchange case), a reused open."""
    rows = []
    for record, (code, millis, handle) in enumerate(
        [
            (4658, 0, "0x1"),
            (4656, 1, "0x1"),
            (4663, 2, "0x1"),
            (4658, 3, "0x1"),
            (4658, 4, "0x1"),
            (4656, 5, "0x2"),
            (4658, 5, "0x2"),
            (4656, 5, "0x2"),
            (4658, 5, "0x2"),
            (4656, 6, "0x3"),
            (4656, 7, "0x3"),
        ],
        1,
    ):
        rows.append(
            {
                "EventCode": str(code),
                "dest": "H",
                "process_id": 4,
                "HandleId": handle,
                "action": "success",
                "AccessMask": "0x1",
                "_time": millis / 1000,
                "_raw": f"<EventRecordID>{record}</EventRecordID>",
                "source": "s",
                "_cd": f"0:{100 - record}",
            }
        )
    replayed = sorted(
        (
            row["handle_id"],
            row["handle_ending"],
            row.get("handle_open_record_id"),
            row.get("handle_close_record_id"),
            row["handle_access_count"],
        )
        for row in scheduled_runs(list(reversed(rows)))
    )
    assert replayed == [
        ("0x1", "close_without_open", None, 1, 0),
        ("0x1", "close_without_open", None, 5, 0),
        ("0x1", "closed", 2, 4, 1),
        ("0x2", "closed", 6, 7, 0),
        ("0x2", "closed", 8, 9, 0),
        ("0x3", "open_at_end", 11, None, 0),
        ("0x3", "reused_before_close", 10, None, 0),
    ]


def test_each_session_is_written_by_one_run():
    """Over 31 hours, hourly runs each reading 24 hours: every session once, under the ending the whole data gives;
    a handle open longer than the range is written open when its open leaves it, its close later without an open."""
    hour = PERIOD
    events = [
        (4656, 0.5, "0xa"),
        (4658, 2.5, "0xa"),
        (4658, 4.0, "0xa"),  # closed across runs, then a second close
        (4656, 1.0, "0xb"),
        (4663, 1.5, "0xb"),
        (4656, 5.0, "0xb"),
        (4658, 6.0, "0xb"),  # reused, then closed
        (4656, 1.2, "0xc"),  # still open when the data ends
        (4656, 0.1, "0xd"),
        (4658, 30.0, "0xd"),  # open longer than a run's range
        (4658, 3.0, "0xe"),
    ]  # a close without an open
    rows = [
        {
            "EventCode": str(code),
            "dest": "H",
            "process_id": 4,
            "HandleId": handle,
            "action": "success",
            "AccessMask": "0x1",
            "_time": 1_600_000_000 + hours * hour,
            "source": "s",
            "_raw": f"<EventRecordID>{record}</EventRecordID>",
            "_cd": f"0:{record}",
        }
        for record, (code, hours, handle) in enumerate(sorted(events, key=lambda event: event[1]), 1)
    ]
    by_record = {record: hours for record, (_code, hours, _handle) in enumerate(sorted(events, key=lambda e: e[1]), 1)}
    written = sorted(
        (
            row["handle_id"],
            row["handle_ending"],
            by_record.get(row.get("handle_open_record_id")),
            by_record.get(row.get("handle_close_record_id")),
            row["handle_access_count"],
        )
        for row in scheduled_runs(rows)
    )
    assert written == [
        ("0xa", "close_without_open", None, 4.0, 0),
        ("0xa", "closed", 0.5, 2.5, 0),
        ("0xb", "closed", 5.0, 6.0, 0),
        ("0xb", "reused_before_close", 1.0, None, 1),
        ("0xc", "open_at_end", 1.2, None, 0),
        ("0xd", "close_without_open", None, 30.0, 0),
        ("0xd", "open_at_end", 0.1, None, 0),
        ("0xe", "close_without_open", None, 3.0, 0),
    ]


_ROWS = {}


def _corpus_rows(relative, reverse=False):
    """One corpus file's events as indexed (reversed: stored the other way round); the events read once."""
    if relative not in _ROWS:
        _ROWS[relative] = _search_time_rows(_events(corpus_path(*relative.split("/"))))
    rows = _ROWS[relative][::-1] if reverse else _ROWS[relative]
    return _indexed([dict(row) for row in rows])


def _replayed(relative, reverse=False, commands=session_splunk.COMMANDS):
    """A search replayed over one corpus file, all its events at once."""
    return replay(_corpus_rows(relative, reverse), commands)


@functools.lru_cache(maxsize=None)
def _replayed_sessions(relative, reverse=False):
    """The summary events the scheduled runs write for one corpus file."""
    return scheduled_runs(_corpus_rows(relative, reverse))


def _moved_to_a_period_boundary(rows):
    """The rows moved by whole seconds so that a period boundary falls at their median time: runs cut the file."""
    median = sorted(row["_time"] for row in rows)[len(rows) // 2]
    shift = -math.floor(median) % PERIOD
    return [dict(row, _time=row["_time"] + shift) for row in rows]


@pytest.mark.parametrize("relative", [entry["file"] for entry in CORPUS_FILES])
def test_splunk_search_replay_gives_the_local_sessions(relative):
    local = _pairs_of_local(_local_sessions(corpus_path(*relative.split("/"))))
    assert _pairs_of_splunk(_replayed_sessions(relative)) == local
    # the file the other way round gives the same sessions to Splunk too
    assert _pairs_of_splunk(_replayed_sessions(relative, reverse=True)) == local
    # and so does a file cut by the runs: each session is written by one run only
    assert _pairs_of_splunk(scheduled_runs(_moved_to_a_period_boundary(_corpus_rows(relative)))) == local


# --- the EQL sequence -----------------------------------------------------------------------------------------


def _log_order(events):
    order, ordered = TimeOrder(), []
    for event in events:
        ordered += [item for _time, item in order.push(time_ns(event.system["TimeCreated"]), event)]
    return ordered + [item for _time, item in order.drain()]


def _elasticsearch_order(events, tiebreaker):
    """Events in the order an EQL search puts their documents: @timestamp, the rule's tiebreaker_field (missing
    last), then the order they were indexed in (the implicit _shard_doc tie-breaker of one shard)."""

    def value(event):
        node = to_ecs(event)
        for name in tiebreaker.split("."):
            node = node.get(name) if isinstance(node, dict) else None
        return node

    return sorted(
        events, key=lambda event: (time_ns(event.system["TimeCreated"]), value(event) is None, value(event) or 0)
    )


LIFETIME = next(detection for detection in load_bundle() if detection.kind == "handle_lifetime")


def _eql_pairs(events):
    """The lifetime EQL sequence's pairs over the events in the order given."""
    import eql

    documents = [dict(to_ecs(event), _ns=time_ns(event.system["TimeCreated"])) for event in events]
    found = []
    engine = eql.PythonEngine({"print": False})
    with eql.parser.elasticsearch_syntax:
        engine.add_query(eql.parse_query(query(LIFETIME, ECS)))
    engine.add_output_hook(lambda result: found.append(result.events))
    # the engine takes the events in the order given (their position as the timestamp)
    engine.stream_events(eql.Event("any", position, document) for position, document in enumerate(documents))
    engine.finalize()
    return sorted(
        _pair(
            opened.data["host"]["name"],
            opened.data["process"]["pid"],
            opened.data["winlog"]["event_data"]["HandleId"],
            opened.data["_ns"],
            closed.data["_ns"],
        )
        for opened, closed in found
    )


def _pair(host, process_id, handle_id, opened_ns, closed_ns):
    """A pair by its handle and its times (microseconds, Splunk's precision), and its duration."""
    opened, closed = round(opened_ns / 1e9, 6), round(closed_ns / 1e9, 6)
    return host, process_id, handle_id, opened, closed, round(closed - opened, 6)


@pytest.mark.parametrize("relative", [entry["file"] for entry in CORPUS_FILES])
def test_local_splunk_and_eql_sessions_have_the_same_pairs_and_durations(relative):
    path = corpus_path(*relative.split("/"))
    local = sorted(
        _pair(
            record["host"], record["process_id"], record["handle_id"], time_ns(record["start"]), time_ns(record["end"])
        )
        for record in _local_sessions(path)
        if record["ending"] == "closed"
    )
    splunk = sorted(
        _pair(
            row["dest"], row["process_id"], row["handle_id"], time_ns(row["handle_start"]), time_ns(row["handle_end"])
        )
        for row in _replayed_sessions(relative)
        if row["handle_ending"] == "closed"
    )
    assert splunk == local
    # the lifetime detection's search (and the dashboards' lifetime panels) pairs the same, either way round
    lifetimes = lifetime_commands(CIM)
    for reverse in (False, True):
        assert (
            sorted(
                _pair(row["dest"], row["process_id"], row["HandleId"], row["opened_time"] * 1e9, row["_time"] * 1e9)
                for row in _replayed(relative, reverse, lifetimes)
            )
            == local
        )
    events = _events(path)
    assert _eql_pairs(_log_order(events)) == local
    # in Elasticsearch's order (the rule's tiebreaker_field: the record number), either way round the file is
    # indexed; a form without record numbers leaves equal times in the order indexed (docs/pairing.md)
    if all(record_number(event) is not None for event in events):
        tiebreaker = rule(LIFETIME, ECS)["tiebreaker_field"]
        assert _eql_pairs(_elasticsearch_order(events, tiebreaker)) == local
        assert _eql_pairs(_elasticsearch_order(events[::-1], tiebreaker)) == local
    assert len(local) == EXPECTED_PAIRS.get(relative, (0, 0))[0]


SUMMARY_EVALS = {
    name[len("EVAL-") :]: Expression(value)
    for name, value in generated_conf(f"{ADDON_DEFAULT}/props.conf")[session_splunk.SOURCETYPE].items()
    if name.startswith("EVAL-")
}


def summary_event(row):
    """A summary event as a search of its sourcetype returns it: the fields collect wrote, then the sourcetype's
    search-time EVALs (props.conf; each reads the fields as extracted), without _time."""
    evaluated = {name: expression.evaluate(row) for name, expression in SUMMARY_EVALS.items()}
    return {name: value for name, value in {**row, **evaluated}.items() if value is not None and name != "_time"}


def expected_summary(record):
    """The local session's CIM form as Splunk can hold it: Splunk keeps times to the microsecond (the ISO times
    already are), so the durations are those between the microsecond times; an empty list is no field in Splunk."""
    document = to_cim(record)
    if "handle_duration_ns" in document:
        nanoseconds = time_ns(document["handle_end"]) - time_ns(document["handle_start"])
        document.update(handle_duration_ns=nanoseconds, duration=nanoseconds / 1e9)
    return {name: value for name, value in document.items() if value != []}


NUMBERS = {field["cim"] for field in session_spec()["fields"] if field["type"] in ("long", "double")}


def comparable(document):
    """Values compared as Splunk shows them: numbers as numbers, multivalue fields as their values in order (one
    value is a single value in Splunk), everything else as text; sorted so that sessions compare as a set."""

    def value(name, item):
        if name in session_splunk.MULTIVALUE_FIELDS:
            return tuple(str(part) for part in (item if isinstance(item, list) else [item]))
        return float(item) if name in NUMBERS else str(item)

    return tuple(sorted((name, value(name, item)) for name, item in document.items()))


@pytest.mark.parametrize("relative", [entry["file"] for entry in CORPUS_FILES])
def test_the_summary_events_are_the_local_sessions_field_by_field(relative):
    """Every field of every session, as the summary index holds it, equals the local session's CIM form."""
    local = sorted(
        comparable(expected_summary(record)) for record in _local_sessions(corpus_path(*relative.split("/")))
    )
    for reverse in (False, True):  # the file stored either way round
        splunk = sorted(comparable(summary_event(row)) for row in _replayed_sessions(relative, reverse))
        assert len(splunk) == len(local)
        for found, expected in zip(splunk, local):
            assert dict(found) == dict(expected)


@pytest.mark.parametrize("object_type", [*access_rights()[1], "Mutant", None])
def test_the_lookup_names_every_bit_as_the_local_sessions_do(object_type):
    """The lookup and the macro win4658_access_names give sessions/access.py's names, for every table and bit."""
    masks = [0xFFFFFFFF, 0x1FFFFF, 0x120089, 0x0, 0x80000000, 0xC000, 0x10000]
    rows = [{"win4658_rights_type": object_type or "-", "mask": mask} for mask in masks]
    named = replay(
        rows,
        [
            ("lookup", f"{session_splunk.ACCESS_RIGHTS_LOOKUP} object_type AS win4658_rights_type"),
            ("eval", f"`{session_splunk.ACCESS_NAMES_MACRO}(mask, names)`"),
        ],
    )
    assert [_values(row.get("names")) for row in named] == [list(access_names(object_type, mask)) for mask in masks]


def test_the_session_fields_on_a_hand_made_session():
    """Names by object type (unnamed bits last, in hex), the 4663 masks or-ed, privileges split, ISO times."""
    rows = [
        {
            "EventCode": "4656",
            "dest": "H",
            "process_id": 4,
            "HandleId": "0x10",
            "action": "success",
            "AccessMask": "0x1fffff",
            "ObjectType": "Process",
            "PrivilegeList": "SeDebugPrivilege\n\t\t\tSeBackupPrivilege",
            "_time": 1442880942.910428,
            "_raw": "<EventRecordID>7</EventRecordID>",
            "source": "s",
            "_cd": "0:1",
        },
        {
            "EventCode": "4663",
            "dest": "H",
            "process_id": 4,
            "HandleId": "0x10",
            "AccessMask": "0x10",
            "_time": 1442880942.910429,
            "_raw": "<EventRecordID>8</EventRecordID>",
            "source": "s",
            "_cd": "0:2",
        },
        {
            "EventCode": "4663",
            "dest": "H",
            "process_id": 4,
            "HandleId": "0x10",
            "AccessMask": "0x100001",
            "_time": 1442880942.910430,
            "_raw": "<EventRecordID>9</EventRecordID>",
            "source": "s",
            "_cd": "0:3",
        },
        {
            "EventCode": "4658",
            "dest": "H",
            "process_id": 4,
            "HandleId": "0x10",
            "_time": 1442880943.5,
            "_raw": "<EventRecordID>10</EventRecordID>",
            "source": "s",
            "_cd": "0:4",
        },
    ]
    (session,) = [summary_event(row) for row in scheduled_runs(rows)]
    assert session["handle_access_requested"][-3:] == ["SYNCHRONIZE", "0x4000", "0x8000"]
    assert session["handle_access_requested"][0] == "PROCESS_TERMINATE"
    assert (session["handle_access_requested_mask"], session["handle_access_used_mask"]) == ("0x1fffff", "0x100011")
    assert session["handle_access_used"] == ["PROCESS_TERMINATE", "PROCESS_VM_READ", "SYNCHRONIZE"]
    assert session["handle_privileges"] == ["SeDebugPrivilege", "SeBackupPrivilege"]
    assert (session["handle_start"], session["handle_end"]) == (
        "2015-09-22T00:15:42.910428Z",
        "2015-09-22T00:15:43.500000Z",
    )
    assert (session["handle_duration_ns"], session["duration"]) == (589572000, 0.589572)
