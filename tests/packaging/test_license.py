"""One licence: the checkout's LICENSE is the Apache-2.0 text pyproject.toml declares, and the Splunk app and the
Elastic package ship that same text."""

import os
import re

from tests.support.paths import ROOT


def read(*parts: str) -> str:
    with open(os.path.join(ROOT, *parts), encoding="utf-8") as stream:
        return stream.read()


def test_the_root_licence_is_the_one_pyproject_declares():
    text = read("LICENSE")
    assert text.lstrip().startswith("Apache License\n                           Version 2.0, January 2004")
    assert re.search(r'^license = "Apache-2.0"$', read("pyproject.toml"), re.MULTILINE)


def test_the_splunk_app_and_the_elastic_package_ship_the_same_text():
    text = read("LICENSE")
    assert read("addon", "LICENSE") == text
    assert read("packages", "win4658", "LICENSE.txt") == text
