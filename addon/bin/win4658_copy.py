"""External lookup win4658_copy (transforms.conf): a thin entry point over win4658.splunk.runtime.copy_lookup.

The library is vendored in ../lib.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))

from win4658.splunk.runtime.copy_lookup import copy_rows  # noqa: E402  (needs the vendored lib on sys.path)

if __name__ == "__main__":
    copy_rows(sys.stdin, sys.stdout)
