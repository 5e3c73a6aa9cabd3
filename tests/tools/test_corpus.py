"""tools/corpus.py against a real HTTP server on 127.0.0.1: downloads, resumes, refuses what does not match."""

import hashlib
import http.server
import os
import urllib.parse

import corpus
import pytest

from tests.support.loopback import loopback_server
from tests.support.paths import CORPUS_FILES, ROOT

REPOSITORY = "example/logs"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


class MirrorHandler(http.server.BaseHTTPRequestHandler):
    """Serves the files of ``server.files`` (URL path → bytes), honouring ``Range: bytes=N-`` when
    ``server.honour_range``; records every request's path and Range header."""

    def do_GET(self):
        self.server.requests.append((self.path, self.headers.get("Range")))
        body = self.server.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        ranged = self.headers.get("Range") and self.server.honour_range
        start = int(self.headers["Range"][len("bytes=") : -1]) if ranged else None
        if start is not None and start >= len(body):
            self.send_error(416)
            return
        self.send_response(200 if start is None else 206)
        if start is not None:
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        self.send_header("Content-Length", str(len(body) - (start or 0)))
        self.end_headers()
        self.wfile.write(body[start or 0 :])

    def log_message(self, *args):
        pass


@pytest.fixture
def mirror():
    with loopback_server(MirrorHandler) as server:
        server.files, server.requests, server.honour_range = {}, [], True
        yield server


def _entry(name: str, content: bytes, commit=COMMIT) -> dict:
    return {
        "file": f"json/{name}",
        "repository": REPOSITORY,
        "commit": commit,
        "path": f"datasets/a dir/{name}",
        "sha256": hashlib.sha256(content).hexdigest(),
        "size": len(content),
    }


def _serve(server, entry, content):
    server.files[f"/{REPOSITORY}/{entry['commit'] or 'HEAD'}/datasets/a%20dir/{entry['file'][5:]}"] = content


def _base(server):
    return f"http://127.0.0.1:{server.server_address[1]}"


def _served_file(server, size: int):
    content = os.urandom(size)
    entry = _entry("a.zip", content)
    _serve(server, entry, content)
    return entry, content


def _write(path, data: bytes):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def test_fetches_verifies_and_then_skips_what_is_present(mirror, tmp_path):
    contents = {"a.zip": os.urandom(200_000), "b.evtx": b"ElfFile\0" + os.urandom(5000)}
    entries = [_entry("a.zip", contents["a.zip"]), _entry("b.evtx", contents["b.evtx"], commit=None)]
    for entry in entries:
        _serve(mirror, entry, contents[entry["file"][5:]])
    cache = str(tmp_path / "corpus")
    assert corpus.fetch(cache, _base(mirror), entries) == ["downloaded: json/a.zip", "downloaded: json/b.evtx"]
    assert (tmp_path / "corpus" / "json" / "a.zip").read_bytes() == contents["a.zip"]
    assert [path for path, _ in mirror.requests] == [
        f"/{REPOSITORY}/{COMMIT}/datasets/a%20dir/a.zip",
        f"/{REPOSITORY}/HEAD/datasets/a%20dir/b.evtx",
    ]
    assert corpus.fetch(cache, _base(mirror), entries) == ["present: json/a.zip", "present: json/b.evtx"]
    assert len(mirror.requests) == 2 and corpus.verify(cache, entries) == []


def test_a_partial_download_is_resumed_with_a_range_request(mirror, tmp_path):
    entry, content = _served_file(mirror, 300_000)
    part = tmp_path / "corpus.partial" / "json" / "a.zip.part"
    _write(part, content[:123_456])
    assert corpus.fetch_file(entry, str(tmp_path / "corpus"), _base(mirror)) == "resumed"
    assert mirror.requests[0][1] == "bytes=123456-"
    assert (tmp_path / "corpus" / "json" / "a.zip").read_bytes() == content and not part.exists()


def test_a_server_ignoring_range_restarts_the_download(mirror, tmp_path):
    entry, content = _served_file(mirror, 100_000)
    mirror.honour_range = False
    # what is there would be wrong if appended to
    _write(tmp_path / "corpus.partial" / "json" / "a.zip.part", b"x" * 50_000)
    assert corpus.fetch_file(entry, str(tmp_path / "corpus"), _base(mirror)) == "downloaded"
    assert (tmp_path / "corpus" / "json" / "a.zip").read_bytes() == content


def test_a_truncated_file_is_an_error_and_kept_aside(mirror, tmp_path):
    content = os.urandom(100_000)
    entry = _entry("a.zip", content)
    _serve(mirror, entry, content[:60_000])
    with pytest.raises(
        corpus.CorpusError,
        match=r"json/a.zip: got 60000 bytes with sha256 [0-9a-f]{64}, the manifest "
        r"says 100000 bytes .* not used, kept as .*a\.zip\.part",
    ):
        corpus.fetch_file(entry, str(tmp_path / "corpus"), _base(mirror))
    assert not (tmp_path / "corpus" / "json" / "a.zip").exists()
    assert (tmp_path / "corpus.partial" / "json" / "a.zip.part").stat().st_size == 60_000
    with pytest.raises(corpus.CorpusError, match="got 60000 bytes"):  # asked from byte 60000 on: 416, still short
        corpus.fetch_file(entry, str(tmp_path / "corpus"), _base(mirror))
    assert mirror.requests[-1][1] == "bytes=60000-"
    _serve(mirror, entry, content)  # the mirror is repaired: the next fetch resumes where the short copy ended
    assert corpus.fetch_file(entry, str(tmp_path / "corpus"), _base(mirror)) == "resumed"
    assert mirror.requests[-1][1] == "bytes=60000-"
    assert (tmp_path / "corpus" / "json" / "a.zip").read_bytes() == content


def test_a_corrupted_file_is_an_error_never_used_and_fetched_anew(mirror, tmp_path):
    content = os.urandom(100_000)
    corrupted = content[:5000] + bytes([content[5000] ^ 1]) + content[5001:]
    entries = [_entry("a.zip", content), _entry("b.zip", b"fine")]
    _serve(mirror, entries[0], corrupted)
    _serve(mirror, entries[1], b"fine")
    lines = corpus.fetch(str(tmp_path / "corpus"), _base(mirror), entries)
    digest = hashlib.sha256(corrupted).hexdigest()
    assert lines[0].startswith("error: json/a.zip: got 100000 bytes with sha256 " + digest)
    assert lines[1] == "downloaded: json/b.zip"  # one bad file does not stop the others
    assert not (tmp_path / "corpus" / "json" / "a.zip").exists()
    assert corpus.verify(str(tmp_path / "corpus"), entries) == ["error: json/a.zip: missing"]
    _serve(mirror, entries[0], content)
    assert corpus.fetch_file(entries[0], str(tmp_path / "corpus"), _base(mirror)) == "downloaded"
    assert mirror.requests[-1][1] is None  # a complete but wrong .part is not resumed from


def test_a_file_damaged_in_the_cache_is_fetched_again(mirror, tmp_path):
    entry, content = _served_file(mirror, 10_000)
    target = tmp_path / "corpus" / "json" / "a.zip"
    _write(target, b"\0" * 10_000)
    assert corpus.verify(str(tmp_path / "corpus"), [entry]) == [
        "error: json/a.zip: size or sha256 differs from the manifest"
    ]
    assert corpus.fetch_file(entry, str(tmp_path / "corpus"), _base(mirror)) == "downloaded"
    assert target.read_bytes() == content


def test_missing_file_on_the_server_names_the_url(mirror, tmp_path):
    with pytest.raises(corpus.CorpusError, match=r"/example/logs/.*/a\.zip: HTTP 404"):
        corpus.fetch_file(_entry("a.zip", b"x"), str(tmp_path / "corpus"), _base(mirror))


def test_the_corpus_is_found_in_the_order_documented(tmp_path, monkeypatch):
    entries = [_entry("a.zip", b"abc")]
    for folder in ("explicit", "cache"):
        _write(tmp_path / folder / "json" / "a.zip", b"abc")
    monkeypatch.setenv("WIN4658_CORPUS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("WIN4658_CORPUS", str(tmp_path / "explicit"))
    assert corpus.locate(entries) == (str(tmp_path / "explicit"), "")
    monkeypatch.delenv("WIN4658_CORPUS")
    assert corpus.locate(entries) == (str(tmp_path / "cache"), "")
    (tmp_path / "cache" / "json" / "a.zip").write_bytes(b"abcd")  # wrong size: incomplete, so not used
    folder, why = corpus.locate(entries)
    assert folder is None and "`python tools/corpus.py fetch` downloads it" in why
    monkeypatch.setenv("WIN4658_CORPUS", str(tmp_path / "nowhere"))
    folder, why = corpus.locate(entries)
    assert folder is None and why.startswith(f"WIN4658_CORPUS={tmp_path / 'nowhere'} lacks 1 of the 1 corpus files")


def test_the_manifest_names_the_source_of_every_file():
    assert corpus.manifest_files() == CORPUS_FILES
    assert {entry["repository"] for entry in CORPUS_FILES} == {
        "mdecrevoisier/EVTX-to-MITRE-Attack",
        "sbousseaden/EVTX-ATTACK-SAMPLES",
        "OTRF/Security-Datasets",
    }
    assert corpus.source_url(CORPUS_FILES[0]) == (
        "https://raw.githubusercontent.com/mdecrevoisier/EVTX-to-MITRE-Attack/HEAD/"
        "TA0006-Credential%20Access/T1003-Credential%20dumping/ID4656-4663-4658%20Mimikatz%20sekurlsa%20password%20dump.evtx"
    )
    assert os.path.dirname(corpus.MANIFEST) == os.path.join(ROOT, "tests")


def test_a_mirror_laid_out_from_a_corpus_folder_serves_fetch(mirror, tmp_path):
    contents = {"a.zip": os.urandom(1000), "b.zip": os.urandom(2000)}
    entries = [_entry("a.zip", contents["a.zip"]), _entry("b.zip", contents["b.zip"], commit=None)]
    for name, content in contents.items():
        _write(tmp_path / "source" / "json" / name, content)
    assert corpus.mirror(str(tmp_path / "source"), str(tmp_path / "mirror"), entries) == [
        "mirrored: json/a.zip",
        "mirrored: json/b.zip",
    ]
    for path in (tmp_path / "mirror").rglob("*.zip"):
        mirror.files["/" + urllib.parse.quote(path.relative_to(tmp_path / "mirror").as_posix())] = path.read_bytes()
    assert corpus.fetch(str(tmp_path / "corpus"), _base(mirror), entries) == [
        "downloaded: json/a.zip",
        "downloaded: json/b.zip",
    ]
    (tmp_path / "source" / "json" / "b.zip").write_bytes(b"changed")
    assert corpus.mirror(str(tmp_path / "source"), str(tmp_path / "again"), entries) == [
        "error: json/b.zip: size or sha256 differs from the manifest"
    ]
