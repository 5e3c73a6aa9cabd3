"""The Splunk handle-session search replayed in Python over the corpus as Splunk holds it, for tests.

The corpus events are rendered as XmlWinEventLog and given the add-on's search-time fields
(tests/support/spl_eval.search_time_fields), then each command of the search (win4658.sessions.splunk.COMMANDS, the
text savedsearches.conf holds) runs with its documented semantics: search's field filter, where and eval through an
evaluator of the SPL expressions used (null propagates, numbers compare as numbers, mvappend skips nulls, mvfilter
keeps the values of its one field the predicate holds for), macros with arguments expanded from macros.conf, rex
with PCRE2, sort 0 (numbers numerically, text lexically), streamstats and eventstats (running or whole-group
sum/count/max per BY group, current=f excludes the event), stats (groups with every BY field present; first of the
events that have the field, max/count/values, eval(...) arguments), lookup (transforms.conf's match_type WILDCARD and
max_matches over the CSV in file order), fields -, and collect as the output, read back with the sourcetype's
search-time EVALs. Splunk keeps an event's time to the microsecond; so does the replay.
tests/sessions/test_splunk.py checks it against the local sessions; tests/sessions/test_splunk_reads.py and
tests/live/test_sessions_splunk_live.py use it too.
"""

import fnmatch
import functools
import math
import re
from collections import defaultdict

import pcre2

from tests.support.paths import corpus_path
from tests.support.spl_eval import FUNCTIONS as KNOWLEDGE_FUNCTIONS
from tests.support.spl_eval import SplExpression, search_time_fields
from tests.support.spl_search import expand_macro_calls, generated_conf, lookup_table
from win4658.artifacts import ADDON_DEFAULT
from win4658.detections.timeline import TimeOrder
from win4658.event import Event
from win4658.readers import read_paths
from win4658.sessions import splunk as session_splunk
from win4658.sessions.fields import cim_names, session_spec, to_cim
from win4658.sessions.stream import handle_sessions, session_hunt
from win4658.splunk.runtime.render import render_event_xml
from win4658.times import time_ns

HANDLE_EVENTS = frozenset({4656, 4658, 4663})

# --- an evaluator of the SPL expressions the search uses: spl_eval's, with NOT, ordering
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


SUMS = {
    "+": lambda a, b: _number(a) + _number(b),
    "-": lambda a, b: _number(a) - _number(b),
    ".": lambda a, b: f"{a}{b}",
}
PRODUCTS = {
    "*": lambda a, b: _number(a) * _number(b),
    "/": lambda a, b: _number(a) / _number(b),
    "%": lambda a, b: _number(a) % _number(b),
}


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
        return self._left_associative(SUMS, self._product)

    def _product(self):
        return self._left_associative(PRODUCTS, self._term)

    def _left_associative(self, operations, operand):
        """operand (operator operand)*, evaluated left to right; ``operations``: operator → combine(a, b)."""
        left = operand()
        while self._peek()[1] in operations:
            combine = operations[self._take()[1]]
            left = _binary(left, operand(), combine)
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
        return lambda f: _multivalue([value for value in field_values(f.get(field)) if predicate({**f, field: value})])

    @staticmethod
    def function_table():
        return FUNCTIONS


def field_values(value):
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
    "mvindex": lambda a: lambda f: None if a[0](f) is None else field_values(a[0](f))[a[1](f)],
    "mvappend": lambda a: lambda f: _multivalue([value for x in a for value in field_values(x(f))]),
    "mvjoin": lambda a: lambda f: None if a[0](f) is None else a[1](f).join(map(str, field_values(a[0](f)))),
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


def split_top_level(text, separator=","):
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
        (part.split("=", 1)[0].strip(), Expression(part.split("=", 1)[1])) for part in split_top_level(arguments)
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


def read_handle_events(path):
    return [result for result in read_paths([path], HANDLE_EVENTS) if isinstance(result, Event)]


def search_time_rows(events):
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


def indexed(rows):
    """The events as indexed from one file, in its order (_cd: bucket and offset, growing with the file)."""
    return [dict(row, _cd=f"7:{1000 + 16 * position}") for position, row in enumerate(rows)]


def pairs_of_splunk(rows):
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


def local_sessions(path):
    return [item for item in handle_sessions([path], session_hunt(10_000, 50_000)) if isinstance(item, dict)]


def pairs_of_local(records):
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


_ROWS = {}


def corpus_rows(relative, reverse=False):
    """One corpus file's events as indexed (reversed: stored the other way round); the events read once."""
    if relative not in _ROWS:
        _ROWS[relative] = search_time_rows(read_handle_events(corpus_path(*relative.split("/"))))
    rows = _ROWS[relative][::-1] if reverse else _ROWS[relative]
    return indexed([dict(row) for row in rows])


def replayed(relative, reverse=False, commands=session_splunk.COMMANDS):
    """A search replayed over one corpus file, all its events at once."""
    return replay(corpus_rows(relative, reverse), commands)


@functools.lru_cache(maxsize=None)
def replayed_sessions(relative, reverse=False):
    """The summary events the scheduled runs write for one corpus file."""
    return scheduled_runs(corpus_rows(relative, reverse))


def moved_to_a_period_boundary(rows):
    """The rows moved by whole seconds so that a period boundary falls at their median time: runs cut the file."""
    median = sorted(row["_time"] for row in rows)[len(rows) // 2]
    shift = -math.floor(median) % PERIOD
    return [dict(row, _time=row["_time"] + shift) for row in rows]


def log_order(events):
    order, ordered = TimeOrder(), []
    for event in events:
        ordered += [item for _time, item in order.push(time_ns(event.system["TimeCreated"]), event)]
    return ordered + [item for _time, item in order.drain()]


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
MULTIVALUE = {cim_names(session_spec())[name] for name in session_splunk.MULTIVALUE_FIELDS}


def comparable(document):
    """Values compared as Splunk shows them: numbers as numbers, multivalue fields as their values in order (one
    value is a single value in Splunk), everything else as text; sorted so that sessions compare as a set."""

    def value(name, item):
        if name in MULTIVALUE:
            return tuple(str(part) for part in (item if isinstance(item, list) else [item]))
        return float(item) if name in NUMBERS else str(item)

    return tuple(sorted((name, value(name, item)) for name, item in document.items()))
