"""The seed sample (tests/fixtures/sample_4658.xml, Microsoft's documentation) and its other forms, for tests."""

from tests.support.paths import SAMPLE_XML
from win4658.event import Event
from win4658.readers import read_paths

SID = "S-1-5-21-3457937927-2839227994-823803824-1104"
# to_cim of the sample: every value the documentation gives
EXPECTED_CIM = {
    "signature_id": 4658,
    "signature": "The handle to an object was closed",
    "action": "success",
    "status": "success",
    "dest": "DC01.contoso.local",
    "dvc": "DC01.contoso.local",
    "user": "dadmin",
    "user_id": SID,
    "src_user": "dadmin",
    "src_nt_domain": "CONTOSO",
    "session_id": "0x4367b",
    "process_id": 3824,
    "process_name": "explorer.exe",
    "process_exec": "explorer.exe",
    "process_path": "C:\\Windows\\explorer.exe",
    "process": "C:\\Windows\\explorer.exe",
    "vendor": "Microsoft",
    "product": "Windows",
    "vendor_product": "Microsoft Windows",
    "SubjectUserSid": SID,
    "SubjectUserName": "dadmin",
    "SubjectDomainName": "CONTOSO",
    "SubjectLogonId": "0x4367b",
    "HandleId": "0x18a8",
    "ObjectServer": "Security",
    "ProcessId": "0xef0",
    "ProcessName": "C:\\Windows\\explorer.exe",
}
# to_cim's CIM fields proper: the EventData fields it passes through keep their Windows names, capitalised
CIM_FIELDS = [field for field in EXPECTED_CIM if field[0].islower()]

CLASSIC_SAMPLE = (
    "09/22/2015 12:15:42 AM\n"
    "LogName=Security\n"
    "EventCode=4658\n"
    "EventType=0\n"
    "ComputerName=DC01.contoso.local\n"
    "SourceName=Microsoft Windows security auditing.\n"
    "Type=Information\n"
    "RecordNumber=276724\n"
    "Keywords=Audit Success\n"
    "TaskCategory=File System\n"
    "OpCode=Info\n"
    "Message=The handle to an object was closed.\n"
    "\n"
    "Subject :\n"
    "\tSecurity ID:\t\tS-1-5-21-3457937927-2839227994-823803824-1104\n"
    "\tAccount Name:\t\tdadmin\n"
    "\tAccount Domain:\t\tCONTOSO\n"
    "\tLogon ID:\t\t0x4367B\n"
    "\n"
    "Object:\n"
    "\tObject Server:\t\tSecurity\n"
    "\tHandle ID:\t\t0x18a8\n"
    "\n"
    "Process Information:\n"
    "\tProcess ID:\t\t0xef0\n"
    "\tProcess Name:\t\tC:\\Windows\\explorer.exe\n"
)


def sample_event():
    return next(result for result in read_paths([SAMPLE_XML]) if isinstance(result, Event))


def one_line(rendered: bytes) -> bytes:
    """The sample as Windows itself writes it (XmlWinEventLog): one line, single backslashes."""
    lines = [line.strip() for line in rendered.decode().splitlines()]
    return "".join(line[2:] if line.startswith("- ") else line for line in lines).replace("\\\\", "\\").encode()
