"""Every .conf the app ships and every .conf example of the docs is what Splunk reads: no comment after a value.

Splunk's .conf files have comments only on lines of their own; `path = /data  # where` makes `/data  # where` the
path, and the input then fails. The examples are the ```ini blocks of README.md and docs/*.md.
"""

import configparser
import glob
import os
import re

import pytest

from tests.support.paths import ROOT

FENCED_INI = re.compile(r"^( *)```ini\n(.*?)^\1```", re.M | re.S)
SETTING = re.compile(r"^\s*([^#\[*\s][^=]*?)\s*=\s*(.*)$")
INLINE_COMMENT = re.compile(r"\s#")
SHIPPED = ("addon/default/*.conf", "addon/README/*.conf.spec", "addon/metadata/*.meta")


def inline_comments(text):
    """(line number, line) of each setting whose value holds a comment (a `#` after white space)."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        setting = SETTING.match(line)
        if setting and INLINE_COMMENT.search(setting.group(2)):
            found.append((number, line))
    return found


def _doc_snippets():
    for path in [os.path.join(ROOT, "README.md"), *sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))]:
        with open(path, encoding="utf-8") as stream:
            text = stream.read()
        for block in FENCED_INI.finditer(text):
            start = text.count("\n", 0, block.start()) + 2
            body = "\n".join(line[len(block.group(1)) :] for line in block.group(2).splitlines())
            yield f"{os.path.relpath(path, ROOT)}:{start}", body


DOC_SNIPPETS = list(_doc_snippets())
SHIPPED_FILES = sorted(path for pattern in SHIPPED for path in glob.glob(os.path.join(ROOT, pattern)))


def test_the_checker_finds_a_comment_after_a_value_and_only_there():
    text = '[a]\npath = /data/x   # where\n# a comment\nsearch = index=x | where x!="#1"\nregex = a#b\n'
    assert inline_comments(text) == [(2, "path = /data/x   # where")]


def test_there_are_snippets_and_shipped_files_to_check():
    assert len(DOC_SNIPPETS) >= 2 and any(path.endswith("inputs.conf") for path in SHIPPED_FILES)


@pytest.mark.parametrize("where,text", DOC_SNIPPETS, ids=[where for where, _ in DOC_SNIPPETS])
def test_doc_examples_have_no_comment_after_a_value_and_parse(where, text):
    assert inline_comments(text) == [], where
    parser = configparser.RawConfigParser(delimiters=("=",), interpolation=None, strict=True)
    parser.read_string(text, source=where)
    assert parser.sections()


@pytest.mark.parametrize("path", SHIPPED_FILES, ids=[os.path.relpath(path, ROOT) for path in SHIPPED_FILES])
def test_shipped_conf_files_have_no_comment_after_a_value(path):
    with open(path, encoding="utf-8") as stream:
        assert inline_comments(stream.read()) == []
