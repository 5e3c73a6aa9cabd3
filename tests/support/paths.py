"""Where the tests' inputs are: the checkout, the committed fixtures, references and snapshots, and the public corpus
(found by tools/corpus.py, the one place that knows where it is)."""

import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED_REFERENCE = os.path.join(os.path.dirname(ROOT), "shared", "reference")
FIXTURES = os.path.join(ROOT, "tests", "fixtures")
TEST_REFERENCE = os.path.join(ROOT, "tests", "reference")
SAMPLE_XML = os.path.join(FIXTURES, "seed_sample.xml")
SNAPSHOTS = os.path.join(ROOT, "tests", "snapshots")

sys.path.insert(0, os.path.join(ROOT, "tools"))
import corpus  # noqa: E402

CORPUS_FILES = corpus.manifest_files()
CORPUS_DIR, CORPUS_ABSENT = corpus.locate(CORPUS_FILES)


def corpus_path(*parts: str) -> str:
    """A path in the public corpus (WIN4658_CORPUS, else the cache, else ../shared/corpus), or skip saying how to
    get it."""
    if CORPUS_DIR is None:
        pytest.skip(CORPUS_ABSENT)
    return os.path.join(CORPUS_DIR, *parts)


def corpus_inputs(folder) -> list:
    """A folder holding a file that is not an event file (made in ``folder``), then the corpus's event files in the
    order reading a folder gives them: the same inputs wherever the corpus came from (../shared/corpus also holds
    MANIFEST.md, the cache does not), with one file skipped as not an event file."""
    notes = os.path.join(str(folder), "notes")
    os.makedirs(notes, exist_ok=True)
    with open(os.path.join(notes, "NOTES.md"), "w", encoding="utf-8") as stream:
        stream.write("# not an event file\n")
    return [notes] + [corpus_path(*relative.split("/")) for relative in sorted(entry["file"] for entry in CORPUS_FILES)]


def unshipped_reference(*parts: str, why: str) -> str:
    """A reference file this project may not redistribute, read from ../shared/reference, or skip saying why."""
    path = os.path.join(SHARED_REFERENCE, *parts)
    if not os.path.exists(path):
        pytest.skip(
            f"../shared/reference/{'/'.join(parts)} is absent ({why}, so not shipped): "
            "put the shared reference folder beside the checkout to run this test"
        )
    return path
