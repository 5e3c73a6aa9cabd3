"""A fast path for event XML as Windows writes it: one regular expression instead of an XML parser.

``parse_plain`` reads a record only when it has the plain shape Windows gives every Security event (System's
children in their usual order with their attributes, as the Windows event layer declares them, then EventData
holding only named Data elements quoted alike) and every character of it is one an XML parser returns verbatim: no
comment, CDATA, processing instruction or DTD (a ``<`` only opens the expected tags), no carriage return, no
character XML forbids, no reference outside Data values and only valid references inside them. For such a record the
result is exactly what ``parse_event_xml`` returns (tests/readers/test_xml_plain.py compares them); for any other
record it returns None and the caller falls back to the XML parser, which also words every error.
"""

import re
from typing import Any, Callable, Dict, List, Optional, Tuple

from ..event import Event, Origin, event_id_of_text
from ..windows import SYSTEM_ATTRIBUTES, SYSTEM_ELEMENTS, SYSTEM_FIELD_ATTRIBUTES, SYSTEM_TEXT_ELEMENTS

# Bytes whose record the XML parser must read: characters XML forbids, and the carriage return it normalises.
_FORBIDDEN_BYTES = bytes(range(0x20)).translate(None, b"\t\n")
_FORBIDDEN_BUT_CR = _FORBIDDEN_BYTES.replace(b"\r", b"")
_ATTRIBUTE_VALUE = "[^\"'<&\t\n]*"  # the XML parser would turn tabs and line breaks into spaces
_TEXT = "([^<]*)"  # match_plain refuses a System holding '&': one find is cheaper than a two-character class


def _attribute(name: str, capture: bool = True) -> str:
    value = f"({_ATTRIBUTE_VALUE})" if capture else _ATTRIBUTE_VALUE
    return f" {name}=(?P<{name}_quote>[\"']){value}(?P={name}_quote)"


def _optional(attribute: str) -> str:
    return f"(?:{attribute})?"


def _system_element(name: str) -> str:
    """One of System's elements as the Windows event layer declares it: its attributes in order (those holding a
    System field captured, those Windows may leave out optional), then its text, or none."""
    attributes = "".join(
        _optional(_attribute(attribute, field is not None))
        if may_be_absent
        else _attribute(attribute, field is not None)
        for attribute, field, may_be_absent in SYSTEM_ATTRIBUTES.get(name, ())
    )
    return f"<{name}{attributes}>{_TEXT}</{name}>" if name in SYSTEM_TEXT_ELEMENTS else f"<{name}{attributes}/>"


def _captured_fields() -> Tuple[str, ...]:
    """The System fields PLAIN_RECORD captures, in its groups' order (the XML parser's key order)."""
    fields: List[str] = []
    for name in SYSTEM_ELEMENTS:
        fields += [field for _, field, _ in SYSTEM_FIELD_ATTRIBUTES.get(name, ())]
        if name in SYSTEM_TEXT_ELEMENTS:
            fields.append(name)
    return tuple(fields)


# Windows writes each record on one line, without whitespace between tags: the expression asks for just that
# (anything else goes to the XML parser), which keeps it fast.
PLAIN_RECORD = re.compile(
    # the whitespace between one-line records, then the record up to its Data elements
    f"[ \t\r\n]*(?P<record>)<Event{_optional(_attribute('xmlns', False))}><System>"
    + "".join(_system_element(name) for name in SYSTEM_ELEMENTS)
    + "</System><EventData>"
)
PLAIN_FIELDS = _captured_fields()
# the captured attributes Windows may leave out: absent, they are no key (as the XML parser leaves them)
_MAY_BE_ABSENT = tuple(
    field for attributes in SYSTEM_FIELD_ATTRIBUTES.values() for _, field, may_be_absent in attributes if may_be_absent
)
# The Data elements and the record's end, matched apart (a repetition after PLAIN_RECORD's many groups would
# make the regex engine save them all at each step): all alike, <Data Name='…'>…</Data> or <Data Name='…'/>.
_DATA_END = "</EventData></Event>"
PLAIN_DATA = re.compile(
    f"(?=<Data Name=([\"']))?(?:<Data Name=\\1{_ATTRIBUTE_VALUE}\\1(?:/>|>[^<]*</Data>))*" + _DATA_END
)
# one Data element, by its quote: (name, value), the value '' when the element closes itself
_DATA_ELEMENTS = {quote: re.compile(f"<Data Name={quote}([^{quote}]*){quote}(?:/>|>([^<]*)</Data>)") for quote in "\"'"}
PlainMatch = Tuple["re.Match[str]", "re.Match[str]"]  # System, then Data
_SYSTEM_GROUPS = tuple(
    index for index in range(1, PLAIN_RECORD.groups + 1) if index not in PLAIN_RECORD.groupindex.values()
)
_EVENT_ID = _SYSTEM_GROUPS[PLAIN_FIELDS.index("EventID")]
_REFERENCE = re.compile("&(?:#([0-9]+)|#x([0-9a-fA-F]+)|(amp|lt|gt|quot|apos));")
_PREDEFINED = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}


class _NotPlain(ValueError):
    """Something the XML parser must judge and word: a doubtful reference, an unnamed Data."""


def parse_plain(record: bytes, origin: Origin) -> Optional[Event]:
    """The Event ``parse_event_xml`` would return, or None when the record is not plain."""
    if (
        len(record.translate(None, _FORBIDDEN_BYTES)) != len(record) or b"\xef\xbf" in record or b"]]>" in record
    ):  # U+FFFE and U+FFFF start with these bytes
        return None
    try:
        text = record.decode("utf-8")
    except UnicodeDecodeError:
        return None
    match = match_plain(text, 0)
    return None if match is None or match[1].end() != len(text) else plain_event(match, origin)


def match_plain(text: str, position: int) -> Optional[PlainMatch]:
    """The plain record (after whitespace) at ``position`` in a ``plain_text``, or None."""
    system = PLAIN_RECORD.match(text, position)
    if system is None or text.find("&", position, system.end()) >= 0:
        return None
    data = PLAIN_DATA.match(text, system.end())
    return None if data is None else (system, data)


def plain_text(buffer: bytes) -> Optional[str]:
    """A buffer of records as text whose offsets are byte offsets, for ``match_plain``, when every
    record in it could be plain: ASCII, no ']]>', no forbidden character (a carriage return, allowed
    between records, is looked for in each record)."""
    if not buffer.isascii() or b"]]>" in buffer or any(code in buffer for code in _FORBIDDEN_BUT_CR):
        return None  # (one memchr per forbidden byte is several times faster than one translate)
    return buffer.decode("ascii")


def event_id_text(match: PlainMatch) -> str:
    return match[0].group(_EVENT_ID)


def record_span(match: PlainMatch) -> Tuple[int, int]:
    return match[0].start("record"), match[1].end()


def plain_event(match: PlainMatch, origin: Origin) -> Optional[Event]:
    """The Event of a plain record, or None when the XML parser must judge it."""
    system, data = match
    try:
        return Event(_system(system), _data(data.string, data.start(), data.end() - len(_DATA_END)), origin)
    except ValueError:  # an EventID that is not a number, _NotPlain
        return None


def _compile_system() -> Callable[["re.Match[str]"], Dict[str, object]]:
    """The System fields of a PLAIN_RECORD match as straight-line code built from PLAIN_FIELDS: a literal dict, in
    the XML parser's key order, is built faster than dict(zip(names, values)); an absent attribute is no key."""
    values = [f"value_{index}" for index in range(len(PLAIN_FIELDS))]
    entries = [
        f"{field!r}: event_id_of_text({value})" if field == "EventID" else f"{field!r}: {value}"
        for field, value in zip(PLAIN_FIELDS, values)
    ]
    lines = [
        "def system_fields(match):",
        f"    {', '.join(values)}, = match.group(*SYSTEM_GROUPS)",
        f"    system = {{{', '.join(entries)}}}",
    ]
    for field in _MAY_BE_ABSENT:
        lines += [f"    if {values[PLAIN_FIELDS.index(field)]} is None:", f"        del system[{field!r}]"]
    lines.append("    return system")
    namespace: Dict[str, Any] = {"SYSTEM_GROUPS": _SYSTEM_GROUPS, "event_id_of_text": event_id_of_text}
    exec(compile("\n".join(lines), "<plain XML System fields>", "exec"), namespace)  # built from the layer's names
    return namespace["system_fields"]


_system = _compile_system()


def _data(text: str, start: int, end: int) -> Dict[str, str]:
    """The Data elements of text[start:end], a run PLAIN_DATA matched: all quoted alike, names without quotes."""
    if start == end:
        return {}
    data = dict(_DATA_ELEMENTS[text[start + len("<Data Name=")]].findall(text, start, end))
    if "" in data:  # <Data Name=''>: the XML path names it by its place
        raise _NotPlain("a Data element without a name")
    if text.find("&", start, end) >= 0:  # names hold no '&': only values change
        for name, value in data.items():
            if "&" in value:
                data[name] = _unescape(value.replace("&#13;", "\r").replace("&#10;", "\n").replace("&#9;", "\t"))
    return data


def _unescape(value: str) -> str:
    if "&" not in value:
        return value
    text, count = _REFERENCE.subn(_referenced, value)
    if count != value.count("&"):
        raise _NotPlain("an ampersand that starts no reference")
    return text


def _referenced(reference: "re.Match[str]") -> str:
    decimal, hexadecimal, name = reference.groups()
    if name is not None:
        return _PREDEFINED[name]
    code = int(decimal) if decimal is not None else int(hexadecimal, 16)
    if not (
        code in (0x9, 0xA, 0xD) or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD or 0x10000 <= code <= 0x10FFFF
    ):
        raise _NotPlain("a reference to a character XML does not allow")
    return chr(code)
