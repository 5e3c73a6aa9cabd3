"""The session line in C (sessions/line_compiled.c) equals the Python line and the reference, session_record written by
orjson: byte for byte on seeded random lifetimes of every shape, and the same error where the reference fails. It is
built, from its current source, and writes every line of the corpus itself (a C line that declined everything would
pass the equality tests through python_session_line alone). tests/sessions/test_line.py holds the corpus and edge
cases for both."""

import os
import random

import orjson
import pytest

from tests.support.paths import corpus_inputs
from win4658.cli.common import ndjson_line
from win4658.detections.lifetime import (
    CLOSE_WITHOUT_OPEN,
    CLOSED,
    FORGOTTEN,
    OPEN_AT_END,
    REUSED,
    Lifetime,
    Opened,
)
from win4658.detections.local_hunt import Hunt
from win4658.event import Event, Origin
from win4658.sessions import line
from win4658.sessions.record import session_record

compiled = line.line_compiled


def _reference(lifetime: Lifetime) -> bytes:
    return ndjson_line({"session": session_record(lifetime)})


def test_the_compiled_line_is_built_from_its_source():
    assert compiled is not None, "sessions/line_compiled.c is not built: pip install -e . with a C compiler"
    source = os.path.join(os.path.dirname(line.__file__), "line_compiled.c")
    if os.path.exists(source):  # a checkout: an editable install builds beside the source, which may change after
        assert os.path.getmtime(compiled.__file__) >= os.path.getmtime(source), "pip install -e . to build it again"


def test_the_compiled_line_writes_every_session_of_the_corpus(tmp_path):
    sessions = [item for item in Hunt(sessions=True).run(corpus_inputs(tmp_path)) if isinstance(item, Lifetime)]
    assert {lifetime.ending for lifetime in sessions} >= {CLOSED, CLOSE_WITHOUT_OPEN, OPEN_AT_END}
    for lifetime in sessions:
        assert compiled.session_line(lifetime) == _reference(lifetime)


# What a reader can give, and what it should not: escapes, non-ASCII, absent values, paths of every Windows form
TEXTS = (
    ["", "-", "--", " ", "a", "é", "ü\u2028\u2029", "日本", "😀", '"', "\\", "/", "\x00", "\x01\x1f", "\x7f"]
    + ["\b\f\n\r\t", "x\u0085y", "\x01" * 300, "C:\\" + "dir\\" * 400 + "f.txt"]  # longer than a line's first 1 KiB
    + ["C:", "C:x.exe", "c:\\", "C:\\Windows\\System32\\lsass.exe", "C:/Program Files/a b/x.exe", "x.exe\\", "a:b"]
    + ["\\\\server\\share", "\\\\server\\share\\dir\\f.txt", "\\\\?\\C:\\x\\y", "\\\\.\\pipe\\lsarpc", "//h/s/", "\\"]
    + ["\\Device\\HarddiskVolume2\\x\\", "\\REGISTRY\\MACHINE\\SAM", "CORP\\alice", "\\alice", "CORP\\", "a\\b\\c"]
)
SURROGATE = "\ud800"


def _text(rng: random.Random, surrogates: bool):
    choice = rng.random()
    if choice < 0.15:
        return None
    if choice < 0.17:
        return 7  # not text: C declines it
    if choice < 0.6:
        return rng.choice(TEXTS)
    text = "".join(rng.choice(TEXTS) or "z" for _ in range(rng.randint(1, 4)))
    return text + SURROGATE if surrogates and rng.random() < 0.05 else text


def _process_number(rng: random.Random):  # hex_to_int's: 0..2^63-1
    return rng.choice([0, 1, 4, 0x3E8, 2**31, 2**63 - 1, rng.randrange(10**12)])


def _odd(rng: random.Random, usual, odd):
    """Mostly a usual value, one time in ten an odd one."""
    return rng.choice(odd) if rng.random() < 0.1 else usual


def _time(rng: random.Random):
    usual = rng.randrange(0, 4_102_444_800 * 10**9)  # 1970 to 2100
    edges = [None, 0, -1, 999, -1_001, rng.randrange(-(10**19), 10**19), 253_402_300_799_999_999_999]
    return _odd(rng, usual, edges + [253_402_300_800_000_000_000, -62_135_596_800_000_000_000, -(10**22)])


def _record_id(rng: random.Random):
    return _odd(rng, rng.randrange(10**9), [None, "", "-", 2**64, -3, True, 1.5, "12", '1"2'])


def _lifetime(rng: random.Random, surrogates: bool) -> Lifetime:
    text = lambda: _text(rng, surrogates)  # noqa: E731
    key = (_odd(rng, text(), [5]), _process_number(rng), text() or "0x4")
    data = {
        name: text()
        for name in ("SubjectUserSid", "SubjectUserName", "SubjectDomainName", "SubjectLogonId", "ProcessName")
        if rng.random() < 0.9
    }
    system = {"EventID": 4658, "EventRecordID": _record_id(rng)}
    closed = Event(system, {name: value for name, value in data.items() if value is not None}, Origin("random", 1))
    if rng.random() < 0.4:
        return Lifetime(key, None, closed, None, _time(rng), [], 0, 0, CLOSE_WITHOUT_OPEN)
    opened = Opened(
        Origin("random", 0),
        text(),
        text(),
        rng.choice([None, "File", "Key", "Process", "SAM_DOMAIN", "Fichier"]),
        text(),
        rng.choice([None, "0x1", "0x120089", "0x80000000", "-", "not a mask"]),
        text(),
        text(),
        text(),
        rng.choice([None, "-", "SeBackupPrivilege", "SeBackupPrivilege\r\n\t\tSeRestorePrivilege"]),
        _record_id(rng),
    )
    ending = rng.choice([CLOSED, REUSED, OPEN_AT_END, FORGOTTEN])
    access_count = rng.choice([0, 0, 1, 3])
    return Lifetime(
        key,
        opened,
        closed if ending == CLOSED else None,
        _time(rng),
        _time(rng) if ending == CLOSED else None,
        [],
        access_count,
        rng.choice([0, 1, 0x20019]) if access_count else 0,
        ending,
    )


def _outcome(write, lifetime):
    try:
        return write(lifetime)
    except Exception as error:  # the same failure: its type
        return type(error)


@pytest.mark.parametrize("seed", range(8))
def test_compiled_lines_equal_the_reference_on_random_lifetimes(seed):
    rng = random.Random(seed)
    written = declined = 0
    for _ in range(2_000):
        lifetime = _lifetime(rng, surrogates=seed % 2 == 1)
        expected = _outcome(_reference, lifetime)
        assert _outcome(line.session_line, lifetime) == expected, lifetime
        assert _outcome(line.python_session_line, lifetime) == expected, lifetime
        by_c = _outcome(compiled.session_line, lifetime)
        if by_c is None:
            declined += 1
        else:
            assert by_c == expected
            written += 1
    assert written > 1_000 and declined > 50  # both paths taken


def test_a_surrogate_fails_as_orjson_fails():
    closed = Event({}, {"SubjectUserName": SURROGATE}, Origin("x", 1))
    lifetime = Lifetime(("WS1", 4, "0x4"), None, closed, None, 0, [], 0, 0, CLOSE_WITHOUT_OPEN)
    assert compiled.session_line(lifetime) is None
    with pytest.raises(orjson.JSONEncodeError):
        line.session_line(lifetime)
