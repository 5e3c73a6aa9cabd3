"""The live Splunk tests' shared parts: whether a Splunk is named (WIN4658_SPLUNK_URL with a token or a user and
password), why the tests skip when not, and the test index."""

import os
from contextlib import contextmanager

SPLUNK_REASON = (
    "no Splunk: set WIN4658_SPLUNK_URL and WIN4658_SPLUNK_TOKEN (or WIN4658_SPLUNK_USER/"
    "WIN4658_SPLUNK_PASSWORD) to run the saved searches"
)
SPLUNK_SET = bool(
    os.environ.get("WIN4658_SPLUNK_URL")
    and (
        os.environ.get("WIN4658_SPLUNK_TOKEN")
        or (os.environ.get("WIN4658_SPLUNK_USER") and os.environ.get("WIN4658_SPLUNK_PASSWORD"))
    )
)


@contextmanager
def splunk_index(service):
    """WIN4658_SPLUNK_INDEX (default win4658_test); created when missing, and then removed afterwards."""
    index = os.environ.get("WIN4658_SPLUNK_INDEX", "win4658_test")
    created = index not in service.indexes
    if created:
        service.indexes.create(index)
    try:
        yield index
    finally:
        if created:
            service.indexes.delete(index)
