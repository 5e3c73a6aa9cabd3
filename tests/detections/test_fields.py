"""The field resolver: the name each platform gives a field of the Windows event, read from the installed mappings."""

import pytest

from win4658.detections.fields import installed, parsed

ECS, CIM = installed("ecs"), installed("cim")


def test_a_field_as_the_sources_write_it_parses_into_its_transform_and_field():
    assert parsed("EventData.ProcessName") == (None, "EventData.ProcessName")
    assert parsed("basename(EventData.ProcessName)") == ("basename", "EventData.ProcessName")
    assert parsed("lookup(System.Keywords)") == ("lookup", "System.Keywords")
    for written in ("ProcessName", "basename(ProcessName)", "basename(EventData.ProcessName", "Other.ProcessName"):
        with pytest.raises(ValueError, match="is not a field of the Windows event"):
            parsed(written)


def test_a_field_resolves_to_its_own_target_else_to_the_raw_eventdata():
    assert [ECS("EventData.ProcessName"), CIM("EventData.ProcessName")] == ["process.executable", "process_path"]
    # hex_to_int keeps the value (only its type changes)
    assert [ECS("EventData.ProcessId"), CIM("EventData.ProcessId")] == ["process.pid", "process_id"]
    assert [ECS("EventData.HandleId"), CIM("EventData.HandleId")] == ["winlog.event_data.HandleId", "HandleId"]
    # a transform that changes the value is no target of the field itself
    assert CIM("EventData.ObjectType") == "ObjectType"


def test_own_names_only_a_target_of_its_own_and_of_reads_the_sources_notation():
    assert [ECS.own("EventData.HandleId"), CIM.own("EventData.ObjectType")] == [None, None]
    assert CIM.own("EventData.ObjectType", "lowercase") == "object_category"
    assert [ECS.of("basename(EventData.ProcessName)"), CIM.of("basename(EventData.ObjectName)")] == [
        "process.name",
        "object",
    ]
    assert [ECS.of("System.Computer"), ECS.of("basename(EventData.ObjectName)")] == ["host.name", None]
    with pytest.raises(LookupError, match="mappings/ecs.yml: no rule writes EventData.ObjectName through basename"):
        ECS.transformed("EventData.ObjectName", "basename")
