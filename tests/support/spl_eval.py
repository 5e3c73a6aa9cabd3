"""The add-on's search-time knowledge replayed the way Splunk applies it, for tests: a tiny evaluator of exactly the
documented SPL functions (win4658.splunk.spl.SPL_FUNCTIONS) and ``search_time_fields``.

REPORT regexes (and the regexes of the EVALs' match/replace) run with PCRE2 itself, the engine Splunk uses, through
the `pcre2` bindings; a field keeps its first value (MV_ADD = false), calculated fields are evaluated in parallel
against the fields as extracted (beside Splunk_TA_windows, its EVALs of the same fields are applied too and win),
then the lookups: win4658_copy (OUTPUT, overwriting) on events that have its match field, the OUTPUTNEW lookup where
a field is still missing. tests/splunk/test_knowledge.py checks the replay against to_cim.
"""

import configparser
import csv
import functools
import io
import re as stdlib_re

import pcre2

from win4658.mapping import bundled
from win4658.normalize import to_cim
from win4658.splunk import knowledge
from win4658.splunk.runtime.copy_lookup import copy_rows

# --- a tiny evaluator of the SPL functions the add-on may use -------------------------------------------------
TOKEN = stdlib_re.compile(
    r'\s*(?:(?P<string>"(?:[^"\\]|\\.)*")|(?P<number>\d+)|(?P<op>==|!=|[(),])|'
    r"(?P<word>[A-Za-z_][A-Za-z0-9_]*))"
)


def _tokens(text):
    position, tokens = 0, []
    while position < len(text.rstrip()):
        match = TOKEN.match(text, position)
        assert match, f"cannot read SPL at {text[position : position + 30]!r}"
        kind = match.lastgroup
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


class SplExpression:
    """Parses an eval expression into a closure; null is None and counts as false."""

    def __init__(self, text):
        self.tokens = _tokens(text)
        self.position = 0
        self.functions = set()
        self.evaluate = self._or()
        assert self.position == len(self.tokens), f"trailing SPL: {self.tokens[self.position :]}"

    def _peek(self):
        return self.tokens[self.position] if self.position < len(self.tokens) else (None, None)

    def _take(self, value=None):
        token = self._peek()
        assert value is None or token[1] == value, f"expected {value}, got {token}"
        self.position += 1
        return token

    def _or(self):
        return self._joined("OR", self._and, any)

    def _and(self):
        return self._joined("AND", self._comparison, all)

    def _joined(self, word, operand, combine):
        """operand (word operand)*, the parts' values combined by any or all."""
        parts = [operand()]
        while self._peek() == ("word", word):
            self._take()
            parts.append(operand())
        return parts[0] if len(parts) == 1 else (lambda fields: combine(part(fields) for part in parts))

    def _comparison(self):
        left = self._term()
        if self._peek()[1] in ("==", "!="):
            operator = self._take()[1]
            right = self._term()

            def compare(fields):
                a, b = left(fields), right(fields)
                if a is None or b is None:
                    return None
                return (str(a) == str(b)) == (operator == "==")

            return compare
        return left

    def _term(self):
        kind, value = self._take()
        if kind == "string":
            text = stdlib_re.sub(r"\\(.)", r"\1", value[1:-1])
            return lambda fields: text
        if kind == "number":
            return lambda fields: int(value)
        if kind == "op" and value == "(":
            inner = self._or()
            self._take(")")
            return inner
        if self._peek() == ("op", "("):
            return self._call(value)
        return lambda fields: fields.get(value)

    def _call(self, name):
        self._take("(")
        arguments = []
        while self._peek() != ("op", ")"):
            arguments.append(self._or())
            if self._peek() == ("op", ","):
                self._take()
        self._take(")")
        self.functions.add(name)
        return self.function_table()[name](arguments)

    @staticmethod
    def function_table():
        return FUNCTIONS


def _tonumber(text, base=10):
    try:
        return int(str(text), base)
    except (TypeError, ValueError):
        return None


FUNCTIONS = {
    "if": lambda args: lambda f: args[1](f) if args[0](f) else args[2](f),
    "case": lambda args: lambda f: next((args[i + 1](f) for i in range(0, len(args), 2) if args[i](f)), None),
    "true": lambda args: lambda f: True,
    "null": lambda args: lambda f: None,
    "isnull": lambda args: lambda f: args[0](f) is None,
    "in": lambda args: lambda f: None if args[0](f) is None else str(args[0](f)) in [str(a(f)) for a in args[1:]],
    "match": lambda args: (
        lambda f: None if args[0](f) is None else pcre2.search(args[1](f), str(args[0](f))) is not None
    ),
    "replace": lambda args: (
        lambda f: None if args[0](f) is None else pcre2.sub(args[1](f), args[2](f), str(args[0](f)))
    ),
    "substr": lambda args: lambda f: None if args[0](f) is None else str(args[0](f))[args[1](f) - 1 :],
    "tonumber": lambda args: lambda f: None if args[0](f) is None else _tonumber(args[0](f), *(a(f) for a in args[1:])),
    "lower": lambda args: lambda f: None if args[0](f) is None else str(args[0](f)).lower(),
}


def read_conf(text):
    """The knowledge's own part of a conf file (the detections and the sessions add stanzas of their own)."""
    parser = configparser.RawConfigParser(delimiters=("=",), interpolation=None, strict=True)
    parser.optionxform = str
    parser.read_string(text)
    return parser


PROPS = read_conf(knowledge.props_conf(bundled("cim")))
TRANSFORMS = read_conf(knowledge.transforms_conf(bundled("cim")))
EVALS = {
    stanza: [
        (attribute[5:], SplExpression(expression))
        for attribute, expression in PROPS.items(stanza)
        if attribute.startswith("EVAL-")
    ]
    for stanza in knowledge.SOURCE_STANZAS
}


@functools.lru_cache(maxsize=1)  # the generated CSV, read once: the corpus tests ask for it per event
def lookup_rows():
    return list(csv.DictReader(io.StringIO(knowledge.event_code_lookup(bundled("cim")))))


def _extract(raw, stanza):
    """REPORT transforms of a stanza in order; the first value of a field stays (MV_ADD = false)."""
    fields = {}
    for attribute, transforms in PROPS.items(stanza):
        if not attribute.startswith("REPORT-"):
            continue
        for name in (part.strip() for part in transforms.split(",")):
            pattern = pcre2.compile(TRANSFORMS.get(name, "REGEX"))
            fmt = TRANSFORMS.get(name, "FORMAT", fallback="")
            for match in pattern.finditer(raw):
                pairs = format_pairs(match, fmt) if fmt else match.groupdict().items()
                for field, value in pairs:
                    if value is not None and field not in fields:
                        fields[field] = value
    return fields


def format_pairs(match, fmt):
    for pair in fmt.split():
        key, _, value = pair.partition("::")
        yield (
            stdlib_re.sub(r"\$(\d)", lambda m: match.group(int(m.group(1))) or "", key),
            stdlib_re.sub(r"\$(\d)", lambda m: match.group(int(m.group(1))) or "", value),
        )


COPY_LOOKUPS = {
    stanza: [
        (attribute, *stdlib_re.fullmatch(r"win4658_copy value AS (\w+) OUTPUT copy AS (\w+)", value).groups())
        for attribute, value in PROPS.items(stanza)
        if attribute.startswith("LOOKUP-") and value.startswith("win4658_copy ")
    ]
    for stanza in knowledge.SOURCE_STANZAS
}


def source_stanza(source):
    """The one pattern stanza of ours a source matches (Splunk's * here: anything but a path separator)."""
    matching = [
        stanza
        for stanza in knowledge.SOURCE_STANZAS
        if stdlib_re.fullmatch(stanza.replace("source::", "").replace("*", "[^/\\\\]*"), source)
    ]
    assert len(matching) == 1, source
    return matching[0]


def search_time_fields(raw, sourcetype, source, existing=None, windows_ta_evals=None):
    """Fields Splunk would show: extraction, the EVALs (in parallel; ``windows_ta_evals`` are the values the
    Windows add-on's literal-stanza EVALs give, which win for the same field), then the lookups."""
    extracted = dict(existing or {})
    for field, value in _extract(raw, sourcetype).items():
        extracted.setdefault(field, value)
    stanza = source_stanza(source)
    fields = dict(extracted)
    for field, expression in EVALS[stanza]:
        fields[field] = expression.evaluate(extracted)
    fields.update(windows_ta_evals or {})
    for _attribute, match_field, output_field in COPY_LOOKUPS[stanza]:
        if fields.get(match_field) is not None:
            fields[output_field] = run_copy_lookup(fields[match_field])
    row = next((row for row in lookup_rows() if row["EventCode"] == fields.get("EventCode")), None)
    if row is not None:
        for field, value in row.items():
            if fields.get(field) is None:
                fields[field] = value
    return {field: value for field, value in fields.items() if value is not None and not field.startswith("win4658_")}


def run_copy_lookup(value):
    """The value the external lookup returns, through its CSV protocol (a number comes back as its text)."""
    rows_out = io.StringIO()
    copy_rows(io.StringIO(f"value,copy\n{_csv_cell(value)},\n"), rows_out)
    text = next(csv.DictReader(io.StringIO(rows_out.getvalue())))["copy"]
    return int(text) if isinstance(value, int) else text


def _csv_cell(value):
    output = io.StringIO()
    csv.writer(output, lineterminator="").writerow([value])
    return output.getvalue()


def expected_fields(event):
    """to_cim's fields as Splunk shows them: numbers are numbers, everything else is text."""
    return {field: value if isinstance(value, int) else str(value) for field, value in to_cim(event).items()}


def comparable_fields(fields):
    """Search-time fields without the System fields the EVALs read (to_cim does not output them)."""
    system = {"EventCode", *knowledge.system_fields(bundled("cim"))}
    return {
        field: int(value) if field == "signature_id" else value
        for field, value in fields.items()
        if value not in ("", "-") and field not in system
    }
