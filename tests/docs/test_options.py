"""README.md (and docs/) and `--help` agree: every option of every subcommand is documented, every
`win4658 <command> --option` the docs show exists, and the event ids the docs name are the ones the code reads."""

import argparse
import glob
import os
import re

import pytest

from tests.support.paths import ROOT
from win4658.cli import build_parser
from win4658.detections.local_hunt import HUNT_EVENT_IDS
from win4658.event import DEFAULT_EVENT_IDS, SUPPORTED_EVENT_IDS

DOCS = [os.path.join(ROOT, "README.md"), *sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))]
COMMAND_END = re.compile(r"`|\s#|\||;|&&|\)|\n|$")
OPTION = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*)")
EVENT_ID = re.compile(r"\b46\d\d\b")


def _read(path):
    with open(path, encoding="utf-8") as stream:
        return stream.read()


README = _read(DOCS[0])
ALL_DOCS = "\n".join(_read(path) for path in DOCS)


def _commands(parser, path=()):
    """(command words, parser) of the top parser and every subcommand below it."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, subparser in action.choices.items():
                yield from _commands(subparser, (*path, name))


COMMANDS = dict(_commands(build_parser()))


def _options(parser):
    return {
        option
        for action in parser._actions
        for option in action.option_strings
        if option.startswith("--") and option != "--help"
    }


def documented_commands(text):
    """(command words, options) of each `win4658 …` command line in text."""
    for start in re.finditer(r"(?<![\w/.-])win4658 ", text):
        rest = text[start.end() :]
        line = rest[: COMMAND_END.search(rest).start()]
        words = line.split()
        path = ()
        while words and (*path, words[0]) in COMMANDS:
            path = (*path, words.pop(0))
        if path:
            yield path, OPTION.findall(" ".join(words))


def test_the_reader_of_docs_finds_commands_and_their_options():
    text = "run `win4658 es hunt --rules x.ndjson NAME` or\nwin4658 hunt --limit 5 PATH  # not --this\n"
    assert list(documented_commands(text)) == [(("es", "hunt"), ["--rules"]), (("hunt",), ["--limit"])]


@pytest.mark.parametrize("command", sorted(COMMANDS), ids=lambda command: " ".join(command) or "win4658")
def test_every_option_of_the_command_is_documented(command):
    missing = sorted(
        option
        for option in _options(COMMANDS[command])
        if not re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", ALL_DOCS)
    )
    assert missing == [], f"win4658 {' '.join(command)}: not in README.md or docs/"


def test_every_documented_option_exists():
    unknown = sorted(
        {
            f"win4658 {' '.join(path)} {option}"
            for path, options in documented_commands(ALL_DOCS)
            for option in options
            if option not in _options(COMMANDS[path])
        }
    )
    assert unknown == []
    assert len(list(documented_commands(README))) >= 30


def test_event_ids_of_the_docs_are_those_the_code_reads():
    convert_help = COMMANDS[("convert",)].format_help()
    assert set(map(int, EVENT_ID.findall(convert_help.split("--event-id", 1)[1]))) == SUPPORTED_EVENT_IDS
    hunt_description = COMMANDS[("hunt",)].description
    assert set(map(int, EVENT_ID.findall(hunt_description))) == HUNT_EVENT_IDS
    read_by_default = re.search(r"Only (\d+) is read by default; add (`[^`]+`)", README)
    assert {int(read_by_default.group(1))} == DEFAULT_EVENT_IDS
    assert DEFAULT_EVENT_IDS | set(map(int, EVENT_ID.findall(read_by_default.group(2)))) == SUPPORTED_EVENT_IDS
