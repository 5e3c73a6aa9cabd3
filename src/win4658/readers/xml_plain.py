"""A fast path for event XML as Windows writes it: one regular expression instead of an XML parser.

``parse_plain`` reads a record only when it has the plain shape Windows gives every Security event (System's
children in their usual order, then EventData holding only named Data elements quoted alike) and every
character of it is one an XML parser returns verbatim: no comment, CDATA, processing instruction or DTD (a
``<`` only opens the expected tags), no carriage return, no character XML forbids, no reference outside Data
values and only valid references inside them. For such a record the result is exactly what
``parse_event_xml`` returns (tests/readers/test_xml_plain.py compares them); for any other record it returns None and
the caller falls back to the XML parser, which also words every error.
"""
import re
from typing import Dict, Optional, Tuple

from ..event import Event, Origin, event_id_of_text

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


def _text_element(name: str, attributes: str = "") -> str:
    return f"<{name}{attributes}>{_TEXT}</{name}>"


# Windows writes each record on one line, without whitespace between tags: the expression asks for just that
# (anything else goes to the XML parser), which keeps it fast.
PLAIN_RECORD = re.compile(
    # the whitespace between one-line records, then the record up to its Data elements
    f"[ \t\r\n]*(?P<record>)<Event{_optional(_attribute('xmlns', False))}><System>"
    f"<Provider{_attribute('Name')}{_optional(_attribute('Guid'))}/>"
    + _text_element("EventID", _optional(_attribute("Qualifiers", False)))
    + "".join(_text_element(name) for name in ("Version", "Level", "Task", "Opcode", "Keywords"))
    + f"<TimeCreated{_attribute('SystemTime')}/>"
    + _text_element("EventRecordID")
    + f"<Correlation{_optional(_attribute('ActivityID', False))}{_optional(_attribute('RelatedActivityID', False))}/>"
    + f"<Execution{_attribute('ProcessID')}{_attribute('ThreadID')}/>"
    + _text_element("Channel") + _text_element("Computer")
    + f"<Security{_optional(_attribute('UserID'))}/></System><EventData>"
)
# The Data elements and the record's end, matched apart (a repetition after PLAIN_RECORD's many groups would
# make the regex engine save them all at each step): all alike, <Data Name='…'>…</Data> or <Data Name='…'/>.
_DATA_END = "</EventData></Event>"
PLAIN_DATA = re.compile(f"(?=<Data Name=([\"']))?(?:<Data Name=\\1{_ATTRIBUTE_VALUE}\\1(?:/>|>[^<]*</Data>))*"
                        + _DATA_END)
# one Data element, by its quote: (name, value), the value '' when the element closes itself
_DATA_ELEMENTS = {quote: re.compile(f"<Data Name={quote}([^{quote}]*){quote}(?:/>|>([^<]*)</Data>)") for quote in "\"'"}
PlainMatch = Tuple["re.Match[str]", "re.Match[str]"]  # System, then Data
_SYSTEM_GROUPS = tuple(index for index in range(1, PLAIN_RECORD.groups + 1)
                       if index not in PLAIN_RECORD.groupindex.values())
_EVENT_ID = _SYSTEM_GROUPS[2]  # the captures: Provider, ProviderGuid, EventID, … as _system unpacks them
_REFERENCE = re.compile("&(?:#([0-9]+)|#x([0-9a-fA-F]+)|(amp|lt|gt|quot|apos));")
_PREDEFINED = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}


class _NotPlain(ValueError):
    """Something the XML parser must judge and word: a doubtful reference, an unnamed Data."""


def parse_plain(record: bytes, origin: Origin) -> Optional[Event]:
    """The Event ``parse_event_xml`` would return, or None when the record is not plain."""
    if (len(record.translate(None, _FORBIDDEN_BYTES)) != len(record)
            or b"\xef\xbf" in record or b"]]>" in record):  # U+FFFE and U+FFFF start with these bytes
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


def _system(match: "re.Match[str]") -> Dict[str, object]:
    (provider, guid, event_id, version, level, task, opcode, keywords, created, record_id,
     process, thread, channel, computer, user) = match.group(*_SYSTEM_GROUPS)
    # a literal dict, in the XML path's key order, is built faster than dict(zip(names, values))
    system: Dict[str, object] = {
        "Provider": provider, "ProviderGuid": guid, "EventID": event_id_of_text(event_id), "Version": version, "Level": level,
        "Task": task, "Opcode": opcode, "Keywords": keywords, "TimeCreated": created, "EventRecordID": record_id,
        "ProcessID": process, "ThreadID": thread, "Channel": channel, "Computer": computer, "UserID": user}
    if guid is None:
        del system["ProviderGuid"]
    if user is None:
        del system["UserID"]
    return system


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
    if not (code in (0x9, 0xA, 0xD) or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD or 0x10000 <= code <= 0x10FFFF):
        raise _NotPlain("a reference to a character XML does not allow")
    return chr(code)
