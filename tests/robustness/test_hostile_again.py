"""Issue 12's classes tried again with new cases on the merged code: each test is a case that failed there.

Encodings and declarations of XML, a text export cut inside a character, the exit status of `convert --to sessions`,
an EVTX header the parser refuses, archives on standard input, inside archives and listing special files, a file
met twice.
"""

import codecs
import io
import os
import subprocess
import sys
import tarfile
import zipfile

import pytest

from tests.support.loopback import answering, loopback_server, url
from tests.support.paths import SAMPLE_XML
from tests.support.sample import one_line
from win4658.event import Event
from win4658.readers import read_paths

NON_ASCII_USER = "Jos\u00e9"


@pytest.fixture(scope="module")
def event_xml() -> str:
    """The sample as one plain line, with a user name outside ASCII."""
    with open(SAMPLE_XML, "rb") as stream:
        return one_line(stream.read()).decode("utf-8").replace("dadmin", NON_ASCII_USER).strip()


def read_file(path):
    return list(read_paths([str(path)], frozenset({4658})))


def users(results):
    return [result.data["SubjectUserName"] if isinstance(result, Event) else result.reason for result in results]


def run_cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "win4658", *map(str, args)], capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    "declaration, codec",
    [
        ('<?xml version="1.0" encoding="ISO-8859-1"?>', "latin-1"),
        ("<?xml version='1.0' encoding='windows-1252' standalone='yes'?>", "cp1252"),
    ],
)
def test_xml_is_read_in_the_encoding_it_declares(tmp_path, event_xml, declaration, codec):
    path = tmp_path / "declared.xml"
    path.write_bytes(f"{declaration}\n<Events>{event_xml}\n{event_xml}</Events>\n".encode(codec))
    assert users(read_file(path)) == [NON_ASCII_USER, NON_ASCII_USER]


def test_a_utf16_declaration_over_utf8_text_is_read_as_the_bytes_say(tmp_path, event_xml):
    """PowerShell's Out-File writes encoding="utf-16" over text it then saves as UTF-8."""
    path = tmp_path / "powershell.xml"
    path.write_bytes(f'<?xml version="1.0" encoding="utf-16"?>\n{event_xml}\n'.encode("utf-8"))
    assert users(read_file(path)) == [NON_ASCII_USER]


def test_an_unknown_declared_encoding_is_an_error_naming_it(tmp_path, event_xml):
    path = tmp_path / "bogus.xml"
    path.write_bytes(f'<?xml version="1.0" encoding="x-no-such"?>\n{event_xml}\n'.encode("utf-8"))
    [error] = read_file(path)
    assert error.fatal and error.origin.path == str(path) and "'x-no-such'" in error.message


@pytest.mark.parametrize("codec, bom", [("utf-32-le", codecs.BOM_UTF32_LE), ("utf-32-be", b""), ("utf-32-le", b"")])
def test_utf32_is_read(tmp_path, event_xml, codec, bom):
    path = tmp_path / "utf32.xml"
    path.write_bytes(bom + f"{event_xml}\n{event_xml}\n".encode(codec))
    assert users(read_file(path)) == [NON_ASCII_USER, NON_ASCII_USER]


def test_comments_and_processing_instructions_between_records_are_not_errors(tmp_path, event_xml):
    path = tmp_path / "commented.xml"
    path.write_bytes(
        f'<?xml version="1.0"?>\n<?xml-stylesheet href="events.xsl"?>\n<!-- exported\n by hand -->\n'
        f"<Events>{event_xml}<!-- one --></Events>\n".encode("utf-8")
    )
    assert users(read_file(path)) == [NON_ASCII_USER]


@pytest.mark.parametrize("tail, at", [(b"\x00", "cut inside a character"), (b"\x00\xd8A\x00", "a lone surrogate")])
def test_utf16_text_keeps_every_record_before_an_invalid_byte(tmp_path, event_xml, tail, at):
    """Before: the whole last 64 KiB of text before the bad byte was lost with it (here: every record)."""
    records = f"{event_xml}\n" * 3
    path = tmp_path / "export.xml"
    path.write_bytes(codecs.BOM_UTF16_LE + records.encode("utf-16-le") + tail)
    results = read_file(path)
    assert users(results[:3]) == [NON_ASCII_USER] * 3
    [error] = results[3:]
    assert error.fatal and error.origin.offset == 2 + 2 * len(records), at


def test_convert_to_sessions_exits_1_when_a_record_is_lost(tmp_path, event_xml):
    """Before: the error was printed but the exit status was 0."""
    path = tmp_path / "events.json"
    path.write_text('{"winlog": "x", "event": {"code": "4658"}}\n', encoding="utf-8")
    for target in ("sessions", "ecs"):
        result = run_cli("convert", "--to", target, path)
        assert result.returncode == 1, (target, result.stderr)
        assert f"{path}: record 1" in result.stderr and "unrecognised: 1" in result.stderr


# --- files and archives -------------------------------------------------------------------------------------------


def outcome(results):
    return ["event" if isinstance(result, Event) else result.reason for result in results]


def tar_gz(path, members):
    """members: (name, bytes) for a file, (name, {"type": tarfile type}) for anything else."""
    with tarfile.open(path, "w:gz") as archive:
        for name, content in members:
            info = tarfile.TarInfo(name)
            if isinstance(content, bytes):
                info.size = len(content)
                archive.addfile(info, io.BytesIO(content))
            else:
                info.type = content = content["type"]
                info.linkname = "/etc/passwd" if content in (tarfile.SYMTYPE, tarfile.LNKTYPE) else ""
                archive.addfile(info)


def test_an_evtx_whose_header_the_parser_refuses_is_an_error_not_a_traceback(tmp_path):
    """Before: RuntimeError from the parser ended convert, hunt and the modular input."""
    path = tmp_path / "cut.evtx"
    path.write_bytes(b"ElfFile\x00" + bytes(range(256)) * 20)
    [error] = read_file(path)
    assert (error.reason, error.fatal, error.origin.path) == ("damaged", True, str(path))
    result = run_cli("hunt", path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"{path}: record 0: damaged EVTX" in result.stderr


def test_a_tar_gz_on_standard_input_is_read_within_its_bounds(tmp_path, event_xml):
    """Before: io.UnsupportedOperation (the expansion bound seeks to learn the archive's size)."""
    archive = tmp_path / "events.tar.gz"
    tar_gz(archive, [("a.xml", event_xml.encode() + b"\n")])
    result = subprocess.run(
        [sys.executable, "-m", "win4658", "convert", "-"], input=archive.read_bytes(), capture_output=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(b"\n") == 1 and b"converted: 1" in result.stderr


def test_archive_members_that_are_not_regular_files_are_counted_and_nested_archives_named(tmp_path, event_xml):
    """Before: a tar's FIFO, link and device members were passed over silently, a zip's were read as text; a nested
    archive or a README member was 'not EVTX, event XML…'."""
    record = event_xml.encode() + b"\n"
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as nested:
        nested.writestr("a.xml", record)
    archive = tmp_path / "listing.tar.gz"
    tar_gz(
        archive,
        [
            ("inner.zip", inner.getvalue()),
            ("fifo", {"type": tarfile.FIFOTYPE}),
            ("link", {"type": tarfile.SYMTYPE}),
            ("hard", {"type": tarfile.LNKTYPE}),
            ("null", {"type": tarfile.CHRTYPE}),
            ("README.txt", b"exported from WS01\n"),
            ("b.xml", record),
        ],
    )
    assert outcome(read_file(archive)) == [
        "unreadable",
        "not a regular file",
        "not a regular file",
        "not a regular file",
        "not a regular file",
        "not an event file",
        "event",
    ]
    zipped = tmp_path / "listing.zip"
    with zipfile.ZipFile(zipped, "w") as writer:
        for name, mode in (("fifo", 0o010644), ("link", 0o120777)):
            info = zipfile.ZipInfo(name)
            info.create_system, info.external_attr = 3, mode << 16
            writer.writestr(info, b"/etc/passwd")
        writer.writestr("README.txt", "exported from WS01\n")
        writer.writestr("a.xml", record)
    assert outcome(read_file(zipped)) == ["not a regular file", "not a regular file", "not an event file", "event"]
    result = run_cli("convert", zipped)
    assert result.returncode == 0 and "not a regular file: 2, not an event file: 1" in result.stderr


def test_a_file_met_twice_is_read_once_and_counted(tmp_path, event_xml):
    """Before: a directory given twice (or a file also given inside its directory) gave every event twice."""
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "a.xml").write_text(event_xml + "\n", encoding="utf-8")
    os.link(folder / "a.xml", folder / "hard-link.xml")
    results = list(read_paths([str(folder), str(folder), str(folder / "a.xml")], frozenset({4658})))
    assert outcome(results) == ["event"] + ["read already"] * 4
    result = run_cli("convert", folder, folder)
    assert result.returncode == 0 and result.stdout.count("\n") == 1 and "read already: 3" in result.stderr


# --- servers and their URLs ----------------------------------------------------------------------------------------


# Answers every request 200 with a login page, as a proxy or a web UI port does.
NOT_SPLUNK = answering(200, "text/html", b"<html><body>Sign in</body></html>")


@pytest.fixture
def html_server():
    with loopback_server(NOT_SPLUNK) as server:
        yield url(server)


def run_with(environment, *args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "win4658", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **environment},
    )


def test_splunk_search_against_a_server_that_is_not_splunk_is_a_usage_error(html_server):
    """Before: AttributeError out of splunk-sdk (exit 1 with a traceback)."""
    result = run_with(
        {"WIN4658_SPLUNK_URL": html_server, "WIN4658_SPLUNK_TOKEN": "t0ken"},
        "splunk",
        "search",
        "win4658_restricted_substring",
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert f"{html_server}: the answer is not splunkd's REST API" in result.stderr and "t0ken" not in result.stderr


@pytest.mark.parametrize(
    "variable, command",
    [
        ("WIN4658_ES_URL", ["es", "install"]),
        ("WIN4658_KIBANA_URL", ["kibana", "rules", "install"]),
        ("WIN4658_SPLUNK_URL", ["splunk", "search", "x"]),
    ],
)
@pytest.mark.parametrize("url", ["http://127.0.0.1 :9", "http://127.0.0.1:9/a\nb", "http://127.0.0.1:9/\x7f"])
def test_a_server_url_with_white_space_or_control_characters_is_refused_before_any_connection(variable, command, url):
    """Before: es raised urllib3's LocationParseError (a traceback), kibana printed the line break back."""
    result = run_with(
        {variable: url, "WIN4658_ES_API_KEY": "k", "WIN4658_KIBANA_API_KEY": "k", "WIN4658_SPLUNK_TOKEN": "t"}, *command
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert "it holds" in result.stderr and "at position" in result.stderr
