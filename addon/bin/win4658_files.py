"""Modular input win4658_files: a thin entry point over win4658.splunk.runtime.modinput, vendored in ../lib."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))

from win4658.splunk.runtime.modinput import FilesInput  # noqa: E402  (needs the vendored lib on sys.path)

if __name__ == "__main__":
    sys.exit(FilesInput().run(sys.argv))
