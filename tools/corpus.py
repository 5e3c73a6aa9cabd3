"""The public corpus of real Windows logs the tests read: where it is, and how to get it.

    python tools/corpus.py fetch [--cache DIR] [--base-url URL]   download every file of tests/corpus_manifest.json
    python tools/corpus.py verify [DIR]                           check every file's size and sha256
    python tools/corpus.py where                                  the folder the tests will read
    python tools/corpus.py mirror SOURCE DEST                     lay a corpus folder out as a --base-url mirror

The files come from their public repositories (raw.githubusercontent.com/<repository>/<commit>/<path>, or the same
layout under --base-url) into the cache, WIN4658_CORPUS_CACHE or ~/.cache/win4658/corpus. A download in progress
lives in <cache>.partial/ as <file>.part and is resumed with an HTTP Range request; only a file whose size and
sha256 match the manifest is moved into the cache. A mismatch is an error and the file stays aside as .part.
Tests read WIN4658_CORPUS=DIR, else the cache, else ../shared/corpus beside the checkout.
Standard library only.
"""

import argparse
import hashlib
import json
import os
import shutil
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Dict, List, Optional, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MANIFEST = os.path.join(ROOT, "tests", "corpus_manifest.json")
SHARED_CORPUS = os.path.join(os.path.dirname(ROOT), "shared", "corpus")
GITHUB_RAW = "https://raw.githubusercontent.com"
BLOCK_SIZE = 1 << 16
TIMEOUT_SECONDS = 60


class CorpusError(Exception):
    """A file could not be fetched or does not match the manifest; the message names it."""


def manifest_files(manifest_path: str = MANIFEST) -> List[Dict]:
    with open(manifest_path, encoding="utf-8") as stream:
        return json.load(stream)["files"]


def cache_dir() -> str:
    return os.environ.get("WIN4658_CORPUS_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "win4658", "corpus"
    )


def locate(files: Optional[List[Dict]] = None) -> Tuple[Optional[str], str]:
    """(the corpus folder the tests read, "") or (None, why there is none and how to get it)."""
    files = manifest_files() if files is None else files
    explicit = os.environ.get("WIN4658_CORPUS")
    candidates = [explicit] if explicit else [cache_dir(), SHARED_CORPUS]
    for folder in candidates:
        missing = [
            entry["file"] for entry in files if not _has_size(os.path.join(folder, entry["file"]), entry["size"])
        ]
        if not missing:
            return folder, ""
        if explicit:
            return None, (
                f"WIN4658_CORPUS={folder} lacks {len(missing)} of the {len(files)} corpus files "
                f"(first: {missing[0]}): `python tools/corpus.py fetch --cache {folder}` fills it"
            )
    return None, (
        f"the public corpus is absent (not in {cache_dir()} nor ../shared/corpus): "
        "`python tools/corpus.py fetch` downloads it, or set WIN4658_CORPUS=DIR"
    )


def _has_size(path: str, size: int) -> bool:
    return os.path.isfile(path) and os.path.getsize(path) == size


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(BLOCK_SIZE), b""):
            digest.update(block)
    return digest.hexdigest()


def source_url(entry: Dict, base_url: str = GITHUB_RAW) -> str:
    ref = entry["commit"] or "HEAD"
    return f"{base_url.rstrip('/')}/{entry['repository']}/{ref}/{urllib.parse.quote(entry['path'])}"


def fetch_file(entry: Dict, cache: str, base_url: str = GITHUB_RAW) -> str:
    """Bring one manifest file into the cache; returns what was done ("present", "downloaded", "resumed")."""
    target = os.path.join(cache, entry["file"])
    if _has_size(target, entry["size"]) and sha256_of(target) == entry["sha256"]:
        return "present"
    part = os.path.join(f"{cache.rstrip(os.sep)}.partial", entry["file"] + ".part")
    os.makedirs(os.path.dirname(part), exist_ok=True)
    if os.path.exists(target):  # damaged in place: never used again, downloaded anew
        os.replace(target, part)
        os.truncate(part, 0)
    offset = os.path.getsize(part) if os.path.exists(part) else 0
    if offset >= entry["size"]:  # a complete download that failed its check earlier: start over
        offset = 0
    resumed = _download(source_url(entry, base_url), part, offset, entry["size"])
    size, digest = os.path.getsize(part), sha256_of(part)
    if size != entry["size"] or digest != entry["sha256"]:
        raise CorpusError(
            f"{entry['file']}: got {size} bytes with sha256 {digest}, the manifest says {entry['size']} "
            f"bytes with sha256 {entry['sha256']}: not used, kept as {part}"
        )
    os.makedirs(os.path.dirname(target), exist_ok=True)
    os.replace(part, target)
    return "resumed" if resumed else "downloaded"


def _download(url: str, part: str, offset: int, size: int) -> bool:
    """Write url's bytes to part from offset (a Range request; from 0 if the server ignores it), at most size bytes
    in all plus one so that an oversized answer shows. Returns whether the download was resumed."""
    request = urllib.request.Request(url, headers={"Range": f"bytes={offset}-"} if offset else {})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            resumed = (
                offset > 0
                and response.status == 206
                and response.headers.get("Content-Range", "").startswith(f"bytes {offset}-")
            )
            with open(part, "ab" if resumed else "wb") as stream:
                remaining = size + 1 - (offset if resumed else 0)
                while remaining > 0:
                    block = response.read(min(BLOCK_SIZE, remaining))
                    if not block:
                        break
                    stream.write(block)
                    remaining -= len(block)
    except urllib.error.HTTPError as error:
        if error.code == 416 and offset:  # the range starts at or past the end: what is there is all there is
            return True
        raise CorpusError(f"{url}: HTTP {error.code} {error.reason}") from None
    except (urllib.error.URLError, OSError) as error:
        raise CorpusError(f"{url}: {getattr(error, 'reason', error)} (what arrived is kept in {part})") from None
    return resumed


def fetch(cache: str, base_url: str = GITHUB_RAW, files: Optional[List[Dict]] = None) -> List[str]:
    """Fetch every file, going on after a failure; returns one line per file, errors starting with "error:"."""
    lines = []
    for entry in manifest_files() if files is None else files:
        try:
            lines.append(f"{fetch_file(entry, cache, base_url)}: {entry['file']}")
        except CorpusError as error:
            lines.append(f"error: {error}")
    return lines


def verify(folder: str, files: Optional[List[Dict]] = None) -> List[str]:
    """One error line per file that is missing or differs from the manifest."""
    errors = []
    for entry in manifest_files() if files is None else files:
        path = os.path.join(folder, entry["file"])
        if not os.path.isfile(path):
            errors.append(f"error: {entry['file']}: missing")
        elif os.path.getsize(path) != entry["size"] or sha256_of(path) != entry["sha256"]:
            errors.append(f"error: {entry['file']}: size or sha256 differs from the manifest")
    return errors


def mirror(source: str, destination: str, files: Optional[List[Dict]] = None) -> List[str]:
    """Copy a verified corpus folder into the layout fetch reads (<repository>/<commit or HEAD>/<path>)."""
    files = manifest_files() if files is None else files
    errors = verify(source, files)
    if errors:
        return errors
    lines = []
    for entry in files:
        target = os.path.join(destination, entry["repository"], entry["commit"] or "HEAD", *entry["path"].split("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(os.path.join(source, entry["file"]), target)
        lines.append(f"mirrored: {entry['file']}")
    return lines


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    fetch_command = commands.add_parser("fetch", help="download and verify every file of the manifest")
    fetch_command.add_argument("--cache", default=None, help="default: WIN4658_CORPUS_CACHE or ~/.cache/win4658/corpus")
    fetch_command.add_argument(
        "--base-url", default=GITHUB_RAW, help="a mirror with the layout <repository>/<commit>/<path>"
    )
    verify_command = commands.add_parser("verify", help="check every file's size and sha256")
    verify_command.add_argument("folder", nargs="?", default=None, help="default: the folder the tests read")
    commands.add_parser("where", help="print the folder the tests read")
    mirror_command = commands.add_parser("mirror", help="lay a verified corpus folder out as a --base-url mirror")
    mirror_command.add_argument("source")
    mirror_command.add_argument("destination")
    options = parser.parse_args(argv)
    if options.command == "fetch":
        lines = fetch(options.cache or cache_dir(), options.base_url)
    elif options.command == "mirror":
        lines = mirror(options.source, options.destination)
    else:
        folder, why = (options.folder, "") if getattr(options, "folder", None) else locate()
        if folder is None:
            print(why, file=sys.stderr)
            return 1
        lines = verify(folder) if options.command == "verify" else [folder]
    for line in lines:
        print(line, file=sys.stderr if line.startswith("error:") else sys.stdout)
    return 1 if any(line.startswith("error:") for line in lines) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
