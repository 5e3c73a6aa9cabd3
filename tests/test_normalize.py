"""The seed's sample event, read verbatim from Microsoft's documentation: every ECS and CIM value."""

import pytest

from tests.support.paths import SAMPLE_XML
from tests.support.sample import EXPECTED_CIM, SID
from win4658.event import Event
from win4658.mapping import flatten
from win4658.normalize import to_cim, to_ecs
from win4658.readers import read_paths

EXPECTED_ECS = {
    "@timestamp": "2015-09-22T00:15:42.910428100Z",
    "ecs.version": "9.4.0",
    "event.code": "4658",
    "event.kind": "event",
    "event.category": ["iam", "configuration"],
    "event.type": ["change"],
    "event.action": "handle-closed-object",
    "event.outcome": "success",
    "event.sequence": 276724,
    "event.provider": "Microsoft-Windows-Security-Auditing",
    "host.name": "DC01.contoso.local",
    "user.id": SID,
    "user.name": "dadmin",
    "user.domain": "CONTOSO",
    "related.user": ["dadmin"],
    "process.pid": 3824,
    "process.executable": "C:\\Windows\\explorer.exe",
    "process.name": "explorer.exe",
    "winlog.logon.id": "0x4367b",
    "winlog.event_data.SubjectUserSid": SID,
    "winlog.event_data.SubjectUserName": "dadmin",
    "winlog.event_data.SubjectDomainName": "CONTOSO",
    "winlog.event_data.SubjectLogonId": "0x4367b",
    "winlog.event_data.HandleId": "0x18a8",
    "winlog.event_data.ObjectServer": "Security",
    "winlog.event_data.ProcessId": "0xef0",
    "winlog.event_data.ProcessName": "C:\\Windows\\explorer.exe",
    "winlog.record_id": "276724",
    "winlog.event_id": "4658",
    "winlog.channel": "Security",
    "winlog.computer_name": "DC01.contoso.local",
    "winlog.provider_name": "Microsoft-Windows-Security-Auditing",
    "winlog.provider_guid": "{54849625-5478-4994-A5BA-3E3B0328C30D}",
    "winlog.task": "File System",
    "winlog.keywords": ["Audit Success"],
    "winlog.opcode": "Info",
    "winlog.process.pid": 4,
    "winlog.process.thread.id": 5056,
}


@pytest.fixture(scope="module")
def sample() -> Event:
    results = list(read_paths([SAMPLE_XML]))
    assert len(results) == 1 and isinstance(results[0], Event), results
    return results[0]


def test_fixture_is_the_documentation_block_byte_for_byte():
    with open(SAMPLE_XML, "rb") as stream:
        raw = stream.read()
    assert raw.startswith(b'- <Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event">\n- <System>')
    assert b'<Data Name="ProcessName">C:\\\\Windows\\\\explorer.exe</Data>' in raw
    assert raw.endswith(b"</Event>")


def test_sample_ecs_has_exactly_the_documented_values(sample):
    assert flatten(to_ecs(sample)) == EXPECTED_ECS


def test_sample_cim_has_exactly_the_documented_values(sample):
    assert to_cim(sample) == EXPECTED_CIM


def test_sample_origin_names_the_file_and_record(sample):
    assert sample.origin.path == SAMPLE_XML
    assert sample.origin.record == 1
    assert sample.origin.offset == 2  # after the rendering's leading "- "
