"""The EVTX reader's shortcuts give what the plain code gives: the event-id pre-filter and the record conversion."""

import pytest

from win4658.event import Origin
from win4658.readers.evtx import EVENT_ID_IN_JSON, _event_id, evtx_json_to_event


@pytest.mark.parametrize(
    "text",
    [
        '{"Event":{"System":{"EventID":4658,"Version":0}}}',
        '{"Event":{"System":{"EventID":4658}}}',  # no comma after the number
        '{"Event":{"System":{"EventID":{"#attributes":{"Qualifiers":0},"#text":4656},"Version":0}}}',
        '{"Event":{"System":{"EventID": 4663 ,"Version":0}}}',
        '{"Event":{"System":{"EventID":04658,"Version":0}}}',
        '{"Event":{"System":{"EventID":"x","Version":0},"EventData":{"EventID":4690,"A":1}}}',  # the second one counts
        '{"Event":{"System":{"EventID":٤٦٥٨,"Version":0}}}',  # Arabic-Indic digits: \\d and int() take them
        '{"Event":{"System":{"EventID":4658x,"Version":0}}}',
        '{"Event":{"System":{"Version":0}},"EventID":,}',
        '{"Event":{"System":{"Version":0}}}',
    ],
)
def test_event_id_prefilter_equals_the_regex(text):
    match = EVENT_ID_IN_JSON.search(text)
    assert _event_id(text) == (None if match is None else int(match.group(1)))


def test_record_conversion_drops_absent_system_fields_and_keeps_event_data_as_text():
    document = {
        "Event": {
            "System": {
                "Provider": {"#attributes": {"Name": "P", "Guid": "54849625-5478-4994-A5BA-3E3B0328C30D"}},
                "EventID": 4658,
                "Version": 1,
                "Keywords": None,
                "TimeCreated": {"#attributes": {"SystemTime": "t"}},
                "EventRecordID": 7,
                "Execution": {"#attributes": {"ProcessID": 4}},
                "Computer": "c",
            },
            "EventData": {"#attributes": {"Name": "x"}, "A": "a", "N": 3, "Z": None, "L": [1, "b"]},
        }
    }
    event = evtx_json_to_event(document, Origin("f.evtx", 7))
    assert event.system == {
        "Provider": "P",
        "ProviderGuid": "{54849625-5478-4994-A5BA-3E3B0328C30D}",
        "EventID": 4658,
        "Version": 1,
        "TimeCreated": "t",
        "EventRecordID": 7,
        "ProcessID": 4,
        "Computer": "c",
    }
    assert event.data == {"A": "a", "N": "3", "Z": "", "L": '[1, "b"]'}
    assert list(event.system)[:3] == ["Provider", "ProviderGuid", "EventID"]
