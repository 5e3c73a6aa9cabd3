"""The modular input run as splunkd runs it, for tests: splunkd's Pythons (skipped, saying how to get them, when
missing), the input definition on stdin, the <event> stream on stdout; an EVTX file cut as it was while being
written."""

import configparser
import html
import os
import re
import signal
import struct
import subprocess
import tarfile
import tempfile
import time
import xml.etree.ElementTree as ET
import zlib

import pytest

from win4658.event import Origin
from win4658.readers.xml import parse_event_xml

PYENV_ROOT = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
INTERPRETERS = {
    "3.9": os.path.join(PYENV_ROOT, "versions", "3.9.18", "bin", "python3.9"),
    "3.13": os.path.join(PYENV_ROOT, "versions", "3.13.0", "bin", "python3.13"),
}
EVENT = re.compile(r"<event\b[^>]*>.*?</event>", re.S)


def interpreter(version):
    path = INTERPRETERS[version]
    if not os.path.exists(path):
        pytest.skip(f"Python {version} not found at {path} (pyenv install {version}) — splunkd's interpreter is needed")
    return path


def input_definition(checkpoint_dir, path, **parameters):
    params = "".join(
        f'<param name="{name}">{html.escape(str(value))}</param>'
        for name, value in dict(path=path, **parameters).items()
    )
    return (
        f"<input><server_host>sh</server_host><server_uri>https://127.0.0.1:8089</server_uri>"
        f"<session_key>not-a-real-key</session_key><checkpoint_dir>{html.escape(str(checkpoint_dir))}</checkpoint_dir>"
        f'<configuration><stanza name="win4658_files://test">{params}</stanza></configuration></input>'
    )


def start_input(python, app_dir, stdin, *arguments, prefix=(), **options):
    """Start the input as splunkd does (``prefix``: a command that runs it, e.g. in a read-only mount)."""
    process = subprocess.Popen(
        [*prefix, python, os.path.join(app_dir, "bin", "win4658_files.py"), *arguments],
        stdin=subprocess.PIPE,
        cwd=app_dir,
        env={"PATH": os.environ.get("PATH", "")},
        **options,
    )
    process.stdin.write(stdin.encode("utf-8"))
    process.stdin.close()
    process.stdin = None
    return process


def run_input(python, app_dir, stdin, *arguments, stop_after=None, stop_signal=signal.SIGKILL, prefix=()):
    """Run the input as splunkd does; stdout and stderr go to files, drained at once as splunkd drains its pipes."""
    with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
        process = start_input(python, app_dir, stdin, *arguments, stdout=stdout, stderr=stderr, prefix=prefix)
        if stop_after is not None:
            time.sleep(stop_after)
            if process.poll() is None:
                process.send_signal(stop_signal)
        process.wait()
        stdout.seek(0)
        stderr.seek(0)
        return process.returncode, stdout.read().decode("utf-8"), stderr.read().decode("utf-8")


def events_of(stdout):
    """Every complete <event> of the stream (a kill may cut the last one, which splunkd would drop too)."""
    return [ET.fromstring(text) for text in EVENT.findall(stdout)]


def event_keys(stdout):
    keys = []
    for element in events_of(stdout):
        event = parse_event_xml(element.findtext("data").encode("utf-8"), Origin("stream", 0))
        keys.append((event.system["Computer"], int(event.system["EventRecordID"])))
    return keys


EVTX_SOURCE = ("evtx", "EVTX-to-MITRE-Attack", "ID4661-4658_Mimikatz_sekurlsa_password_dump_SAM.evtx")
EVTX_HEADER, EVTX_CHUNK = 4096, 65536


def evtx_first_chunks(full, chunks):
    """The EVTX as it was when only its first ``chunks`` chunks were written: header counts and checksum say so."""
    last_chunk = EVTX_HEADER + (chunks - 1) * EVTX_CHUNK
    last_record_id = struct.unpack_from("<Q", full, last_chunk + 32)[0]
    header = bytearray(full[:EVTX_HEADER])
    struct.pack_into("<QQ", header, 16, chunks - 1, last_record_id + 1)  # last chunk number, next record id
    struct.pack_into("<H", header, 42, chunks)
    struct.pack_into("<I", header, 124, zlib.crc32(bytes(header[:120])))
    return bytes(header) + full[EVTX_HEADER : EVTX_HEADER + chunks * EVTX_CHUNK]


def packaged_conf(package, relative):
    """A .conf file of the built package, read as Splunk reads it."""
    with tarfile.open(package) as archive:
        text = archive.extractfile(f"TA-win4658/{relative}").read().decode("utf-8")
    parser = configparser.RawConfigParser(delimiters=("=",), interpolation=None, strict=True)
    parser.optionxform = str
    parser.read_string(text)
    return parser
