"""The first command of an SPL search (the implicit `search` before the first pipe), matched against one event's
search-time fields the way Splunk's search command does: terms ANDed, OR / NOT / parentheses, ``field=value`` and
``field!=value`` with ``*`` wildcards and case ignored in the value, ``field IN (…)``, and argument-less macros
expanded from the add-on's macros.conf. The tests use it to replay the saved and dashboard searches' event
selection on the sample and the corpus; what follows the first pipe is not replayed here (the session search's
replay, tests/sessions/test_splunk.py, takes macro calls with arguments and the add-on's lookup tables from here).
"""

import configparser
import csv
import fnmatch
import functools
import io
import os
import re

from tests.support.paths import ROOT
from win4658.artifacts import ADDON_DEFAULT, LOOKUPS, MACROS_CONF
from win4658.detections import splunk as detection_searches
from win4658.generate import generated_files
from win4658.mapping import bundled
from win4658.splunk import dashboards

TOKEN = re.compile(
    r"\s*(?:(?P<paren>[()])|(?P<macro>`[^`]+`)|"
    r'(?P<term>[A-Za-z_][A-Za-z0-9_.]*\s*(?:!=|=)\s*(?:"(?:[^"\\]|\\.)*"|[^\s()]+))|'
    r"(?P<in>[A-Za-z_][A-Za-z0-9_]*\s+IN\s*\([^)]*\))|(?P<word>[^\s()]+))"
)


def macros():
    parser = configparser.RawConfigParser(delimiters=("=",), interpolation=None, strict=True)
    parser.optionxform = str
    parser.read_string(generated_files(ROOT)[MACROS_CONF])
    return {name: parser.get(name, "definition") for name in parser.sections() if "(" not in name}


MACROS = macros()


@functools.lru_cache(maxsize=None)
def _generated():
    return generated_files(ROOT)


@functools.lru_cache(maxsize=None)
def generated_conf(relative):
    parser = configparser.RawConfigParser(delimiters=("=",), interpolation=None, strict=True)
    parser.optionxform = str
    parser.read_string(_generated()[relative])
    return parser


def expand_macro_calls(text):
    """Every `macro` and `macro(arguments)` of the text replaced by its definition, each $argument$ of a macro with
    arguments (stanza "name(count)", its args list) by the value given (Splunk's textual substitution)."""
    definitions = generated_conf(MACROS_CONF)

    def substitute(match):
        name, arguments = match.group(1), match.group(2)
        if arguments is None:
            return expand_macro_calls(definitions.get(name, "definition"))
        values = [value.strip() for value in arguments.split(",")]
        stanza = f"{name}({len(values)})"
        names = [argument.strip() for argument in definitions.get(stanza, "args").split(",")]
        definition = definitions.get(stanza, "definition")
        for argument, value in zip(names, values):
            definition = definition.replace(f"${argument}$", value)
        return expand_macro_calls(definition)

    return re.sub(r"`([A-Za-z0-9_]+)(?:\(([^`]*)\))?`", substitute, text)


@functools.lru_cache(maxsize=None)
def lookup_table(name):
    """A lookup of the add-on as transforms.conf defines it: (rows of its CSV in file order, its WILDCARD columns,
    max_matches, 100 by default)."""
    stanza = generated_conf(f"{ADDON_DEFAULT}/transforms.conf")[name]
    rows = list(csv.DictReader(io.StringIO(_generated()[f"{LOOKUPS}/{stanza['filename']}"])))
    wildcards = set(re.findall(r"WILDCARD\((\w+)\)", stanza.get("match_type", "")))
    return rows, wildcards, int(stanza.get("max_matches", "100"))


def first_command(search):
    """The text before the first pipe that is outside quotes, brackets and backquotes."""
    depth, quoted, position = 0, False, 0
    while position < len(search):
        char = search[position]
        if char == "\\" and quoted:
            position += 2
            continue
        if char == '"':
            quoted = not quoted
        elif not quoted and char in "[":
            depth += 1
        elif not quoted and char == "]":
            depth -= 1
        elif not quoted and not depth and char == "|":
            return search[:position]
        position += 1
    return search


def expand(text):
    return re.sub(r"`([A-Za-z0-9_]+)`", lambda match: "(" + expand(MACROS[match.group(1)]) + ")", text)


class BaseSearch:
    """A compiled first command: ``matches(fields)`` tells whether Splunk's search would keep the event."""

    def __init__(self, search):
        text = expand(first_command(search)).strip()
        if "[" in text:
            raise ValueError(f"a subsearch cannot be replayed: {text[:60]}")
        self.tokens = [
            (match.lastgroup, match.group(match.lastgroup).strip()) for match in TOKEN.finditer(text) if match.lastgroup
        ]
        self.position = 0
        self.matches = self._or()
        assert self.position == len(self.tokens), f"cannot read {self.tokens[self.position :]}"

    def _peek(self):
        return self.tokens[self.position] if self.position < len(self.tokens) else (None, None)

    def _or(self):
        parts = [self._and()]
        while self._peek() == ("word", "OR"):
            self.position += 1
            parts.append(self._and())
        return lambda fields: any(part(fields) for part in parts)

    def _and(self):
        parts = []
        while self._peek()[0] is not None and self._peek() not in (("word", "OR"), ("paren", ")")):
            if self._peek() == ("word", "AND"):
                self.position += 1
            parts.append(self._not())
        return lambda fields: all(part(fields) for part in parts)

    def _not(self):
        if self._peek() == ("word", "NOT"):
            self.position += 1
            inner = self._not()
            return lambda fields: not inner(fields)
        kind, text = self._peek()
        self.position += 1
        if kind == "paren":
            inner = self._or()
            assert self._peek() == ("paren", ")"), text
            self.position += 1
            return inner
        if kind == "term":
            field, operator, value = re.fullmatch(r"([^\s!=]+)\s*(!=|=)\s*(.*)", text).groups()
            return _comparison(field, operator, _value(value))
        if kind == "in":
            field, values = re.fullmatch(r"(\w+)\s+IN\s*\((.*)\)", text).groups()
            terms = [_comparison(field, "=", _value(value.strip())) for value in values.split(",")]
            return lambda fields: any(term(fields) for term in terms)
        raise ValueError(f"cannot replay the search term {text!r}")


def _value(text):
    return re.sub(r"\\(.)", r"\1", text[1:-1]) if text.startswith('"') else text


def _comparison(field, operator, pattern):
    def compare(fields):
        value = fields.get(field)
        if value is None:
            return False
        equal = fnmatch.fnmatchcase(str(value).lower(), pattern.lower().replace("[", "[[]").replace("?", "[?]"))
        return equal if operator == "=" else not equal

    return compare


# --- the fields a search reads -----------------------------------------------------------------------------
CIM_FIELDS = {rule.target for rule in bundled("cim").rules if rule.target}
EVENTDATA_FIELDS = {"HandleId", "ProcessId", "ProcessName", "ObjectName", "ObjectType", "AccessMask", "ObjectServer"}
SEARCH_FIELDS = CIM_FIELDS | EVENTDATA_FIELDS | {"_time", "EventCode", "source"}  # source: Splunk's own
# fields the detection searches compute (and command options that look like field=value)
DETECTION_DERIVED_FIELDS = frozenset(
    {
        "opened_code",
        "opened_time",
        "object_type",
        "object_name",
        "access_mask",
        "duration_seconds",
        "first_time",
        "last_time",
        "event_codes",
        "count",
        "current",
        "window",
        "global",
        "field",
    }
)


def fields_used(search):
    """Field names a search compares, tables, groups BY, OVER or tests for null (not win4658_* working fields)."""
    search = re.sub(r'"(?:[^"\\]|\\.)*"', '""', search)  # string literals are not field names
    used = set(re.findall(r"\b([A-Za-z_][A-Za-z0-9_]*)\s*(?:=|!=|\bIN\b)", search))
    for clause in (
        re.findall(r"\|\s*table ([^|]+)", search)
        + re.findall(r"\bBY ([^|]+)", search)
        + re.findall(r"\bOVER (\w+)", search)
    ):
        used |= set(clause.split())
    used |= set(re.findall(r"\b(?:isnull|isnotnull)\((\w+)\)", search))
    used |= set(re.findall(r"\b(?:min|max|median|perc\d+|avg|sum|values|list|last)\((\w+)\)", search))
    return {name for name in used if not name.startswith("win4658_") and name not in ("AS", "]")}


def trace_selection(dest, process_id, handle_id):
    """The trace panel's search with the drill-down tokens set, its macro expanded as Splunk expands it."""
    macros = configparser.RawConfigParser(delimiters=("=",), interpolation=None, strict=True)
    macros.optionxform = str
    macros.read(os.path.join(ROOT, "addon", "default", "macros.conf"), encoding="utf-8")
    stanza = f"{detection_searches.TRACE_MACRO}(3)"
    definition = macros.get(stanza, "definition")
    for name, value in zip(macros.get(stanza, "args").split(", "), (dest, process_id, handle_id)):
        definition = definition.replace(f"${name}$", str(value))
    panel_search = dashboards.trace_search()
    for token, value in zip(dashboards.TRACE_TOKENS, (dest, process_id, handle_id)):
        panel_search = panel_search.replace(f"${token}$", str(value))
    assert panel_search == f"`{stanza[:-3]}({dest},{process_id},{handle_id})`"
    return BaseSearch(first_command(definition))
