"""A corpus file stored the other way round, newest record first (DESIGN.md "Pairing order"): JSON-lines reversed
line by line, EVTX records rendered to event XML (by the evtx parser) and reversed."""

import os
import tarfile
import zipfile

import evtx


def archive_lines(path):
    if path.endswith(".zip"):
        with zipfile.ZipFile(path) as archive:
            return [line for name in archive.namelist() for line in archive.read(name).splitlines() if line.strip()]
    with tarfile.open(path) as archive:
        return [
            line
            for member in archive
            if member.isfile()
            for line in archive.extractfile(member).read().splitlines()
            if line.strip()
        ]


def evtx_records_as_xml(path):
    return [record["data"].split("?>", 1)[-1].strip() for record in evtx.PyEvtxParser(path).records()]


def reversed_copy(path, directory):
    """The file's records newest first (EVTX as event XML), written under ``directory``."""
    target = os.path.join(directory, os.path.basename(path))
    if path.endswith(".evtx"):
        records = evtx_records_as_xml(path)
        assert records, path
        with open(target + ".reversed.xml", "w", encoding="utf-8") as stream:
            stream.write("<Events>\n" + "\n".join(reversed(records)) + "\n</Events>\n")
        return target + ".reversed.xml"
    with open(target + ".reversed.ndjson", "wb") as stream:
        stream.write(b"\n".join(reversed(archive_lines(path))) + b"\n")
    return target + ".reversed.ndjson"
