"""Detections 1–4: definitions, Windows path comparison, the corpus hits of the issue, and the Splunk searches."""

import configparser
import json
import os
import re
from collections import Counter

import pytest

from tests.support.paths import ROOT, SAMPLE_XML, corpus_path
from tests.support.spl_search import DETECTION_DERIVED_FIELDS, SEARCH_FIELDS, fields_used
from win4658.detections import splunk
from win4658.detections.definitions import DefinitionError, Detection, DetectionList, by_kind, load_bundle, load_sources
from win4658.detections.engine import Finding
from win4658.detections.local_hunt import Hunt
from win4658.detections.paths import PathPatterns, normalize_path, pattern_regex

DETECTIONS = load_bundle()
KINDS = by_kind(DETECTIONS)
BY_ID = {detection.id: detection for detection in DETECTIONS}
STANDARD = PathPatterns(BY_ID["win4658_process_outside_standard_folders"].list.column("path_pattern"))
RESTRICTED = PathPatterns(BY_ID["win4658_process_in_restricted_folder"].list.column("path_pattern"))


def test_every_definition_validates_and_the_bundle_holds_them_all():
    specs = load_sources(os.path.join(ROOT, "detections"))
    assert [spec["number"] for spec in specs] == [1, 2, 3, 4, 5, 6]
    assert [detection.spec for detection in DETECTIONS] == specs
    assert len({spec["rule_id"] for spec in specs}) == 6


def test_a_definition_that_breaks_the_schema_is_refused(tmp_path):
    with open(os.path.join(ROOT, "detections", "detection.schema.json"), encoding="utf-8") as stream:
        (tmp_path / "detection.schema.json").write_text(stream.read(), encoding="utf-8")
    (tmp_path / "bad.yml").write_text("id: win4658_bad\nnumber: 1\nkind: allowlist\n", encoding="utf-8")
    with pytest.raises(DefinitionError, match="bad.yml"):
        load_sources(str(tmp_path))


@pytest.mark.parametrize(
    "raw, canonical",
    [
        (r"C:\Windows\System32\svchost.exe", r"c:\windows\system32\svchost.exe"),
        (r"\\?\C:\Windows\System32\svchost.exe", r"c:\windows\system32\svchost.exe"),
        (r"\??\C:\Windows\System32\svchost.exe", r"c:\windows\system32\svchost.exe"),
        (r"C:\\Windows\\\System32/svchost.exe", r"c:\windows\system32\svchost.exe"),
        (r"\\?\UNC\fileserver\tools\x.exe", r"\\fileserver\tools\x.exe"),
        (r"\\fileserver\\tools\x.exe", r"\\fileserver\tools\x.exe"),
    ],
)
def test_paths_are_normalised_the_way_windows_compares_them(raw, canonical):
    assert normalize_path(raw) == canonical


@pytest.mark.parametrize(
    "path",
    [
        r"C:\Windows\System32\svchost.exe",
        r"\\?\C:\Windows\System32\svchost.exe",
        r"\??\c:\windows\system32\SVCHOST.EXE",
        r"C:\Windows\\System32\\\wbem\WmiPrvSE.exe",
        r"c:/windows/system32/lsass.exe",
        r"D:\Windows\SysWOW64\cmd.exe",
        r"C:\Program Files\procdump64.exe",
        r"C:\PROGRA~2\Vendor\agent.exe",
        r"C:\Windows\explorer.exe",
        r"C:\Windows\WinSxS\amd64_microsoft-windows-servicingstack_31bf3856ad364e35_10.0.18362.1012_none_171983fb2a153d25\TiWorker.exe",
        r"C:\Windows\servicing\TrustedInstaller.exe",
        r"C:\ProgramData\Microsoft\Windows Defender\Platform\4.18.2009.7-0\MsMpEng.exe",
    ],
)
def test_standard_folders(path):
    assert STANDARD.match(path) is not None


@pytest.mark.parametrize(
    "path",
    [
        r"C:\Windows\evil.exe",
        r"C:\Windows\Sysmon.exe",
        r"C:\Windows\Temp\x.exe",
        r"C:\ProgramData\SharpView.exe",
        r"C:\Windows\explorer.exe.exe",
        r"C:\Program Filesx\x.exe",
        r"C:\Users\wardog\Desktop\Outflank-Dumpert.exe",
    ],
)
def test_not_standard_folders(path):
    assert STANDARD.match(path) is None


@pytest.mark.parametrize(
    "path, folder",
    [
        (r"C:\Users\NORA~1.QUE\AppData\Local\Temp\RarSFX1\winx64_payload.exe", r"*:\Users\*\AppData\Local\Temp\*"),
        (r"\\?\C:\Users\pgustavo\Downloads\mimikatz_trunk\x64\mimikatz.exe", r"*:\Users\*\Downloads\*"),
        (r"C:\WINDOWS\TEMP\a.exe", r"*:\Windows\Temp\*"),
        (r"C:\$Recycle.Bin\S-1-5-21-1\$R0D1.exe", r"*:\$Recycle.Bin\*"),
        (
            r"C:\Users\bob\AppData\Local\Microsoft\Windows\INetCache\IE\X1\setup[1].exe",
            r"*:\Users\*\AppData\Local\Microsoft\Windows\INetCache\*",
        ),
        (r"C:\Users\Public\Documents\run.exe", r"*:\Users\Public\*"),
    ],
)
def test_restricted_folders(path, folder):
    assert RESTRICTED.match(path) == folder


def test_regexes_use_only_the_syntax_python_lucene_and_pcre_share():
    for detection in DETECTIONS:
        for column in ("path_pattern", "process_path"):
            if detection.list and column in detection.list.columns:
                for pattern in detection.list.column(column):
                    regex = pattern_regex(pattern)
                    assert not re.search(r"\(\?|\\[dwsbAzZ]|(?<!\\)[\^$]", regex), regex
                    re.compile(regex)


def test_the_seed_sample_is_in_a_standard_folder_and_allowed():
    hunt = Hunt()
    findings = [item for item in hunt.run([SAMPLE_XML]) if isinstance(item, Finding)]
    assert hunt.summary.events == 1 and findings == []


@pytest.fixture(scope="module")
def corpus_findings():
    hunt = Hunt()
    findings = [item for item in hunt.run([corpus_path()]) if isinstance(item, Finding)]
    return findings


def _by_number(findings, number):
    return [finding for finding in findings if finding.number == number]


def test_detection_4_flags_exactly_the_three_mimikatz_closes(corpus_findings):
    hits = _by_number(corpus_findings, 4)
    files = Counter(os.path.basename(finding.origin.path.split("!")[0]) for finding in hits)
    assert files == {
        "ID4656-4663-4658_Mimikatz_sekurlsa_password_dump.evtx": 1,
        "mimikatz_CVE-2020-1472_Unauthenticated_NetrServerAuthenticate2.zip": 2,
    }
    assert {finding.reason for finding in hits} == {"contains 'mimikatz'"}


def test_detection_2_flags_the_tools_outside_standard_folders(corpus_findings):
    flagged = {finding.process for finding in _by_number(corpus_findings, 2)}
    assert {
        r"C:\TOOLS\Security_tool\Mimikatz-fev-2020\mimikatz.exe",
        r"C:\Users\pgustavo\Downloads\mimikatz_trunk\x64\mimikatz.exe",
        r"C:\Users\wardog\Desktop\Outflank-Dumpert.exe",
        r"C:\Users\NORA~1.QUE\AppData\Local\Temp\RarSFX1\winx64_payload.exe",
        r"C:\ProgramData\SharpView.exe",
    } <= flagged
    assert not [path for path in flagged if "\\system32\\" in path.lower()]
    assert not flagged & {
        r"C:\Program Files\procdump64.exe",
        r"C:\Windows\explorer.exe",
        r"C:\Windows\servicing\TrustedInstaller.exe",
    }
    assert not [path for path in flagged if path.endswith("TiWorker.exe")]
    # the rest: agents that install outside Program Files, which a user adds to the list
    assert {path.split("\\")[1] for path in flagged} == {
        "TOOLS",
        "Users",
        "ProgramData",
        "Windows",
        "WindowsAzure",
        "Packages",
    }
    assert len(_by_number(corpus_findings, 2)) == 217


def test_detection_3_flags_temp_and_downloads(corpus_findings):
    hits = _by_number(corpus_findings, 3)
    assert Counter((finding.process, finding.reason) for finding in hits) == {
        (
            r"C:\Users\NORA~1.QUE\AppData\Local\Temp\RarSFX1\winx64_payload.exe",
            r"in restricted folder *:\Users\*\AppData\Local\Temp\*",
        ): 6,
        (
            r"C:\Users\pgustavo\Downloads\mimikatz_trunk\x64\mimikatz.exe",
            r"in restricted folder *:\Users\*\Downloads\*",
        ): 2,
    }


def test_detection_1_with_a_per_host_allowlist(corpus_findings):
    allowlist = DetectionList(
        "win4658_allowlist",
        ["host", "process_path"],
        [["*", r"*:\Windows\System32\*"], ["WORKSTATION5*", r"C:\Users\wardog\Desktop\Outflank-Dumpert.exe"]],
    )
    hunt = Hunt(lists={"win4658_allowlist": allowlist})
    hits = [item for item in hunt.run([corpus_path("json")]) if isinstance(item, Finding) and item.number == 1]
    processes = {finding.process for finding in hits}
    assert r"C:\Users\wardog\Desktop\Outflank-Dumpert.exe" not in processes
    assert r"C:\ProgramData\SharpView.exe" in processes and not [p for p in processes if "System32" in p]
    shipped = _by_number(corpus_findings, 1)
    assert len(shipped) == 1171 and r"C:\Windows\System32\svchost.exe" not in {f.process for f in shipped}


def test_list_files_must_keep_their_header(tmp_path):
    edited = tmp_path / "folders.csv"
    edited.write_text("folder\nC:\\Tools\\*\n", encoding="utf-8")
    with pytest.raises(DefinitionError, match="header must be path_pattern"):
        BY_ID["win4658_process_outside_standard_folders"].list.replaced_from(str(edited))
    edited.write_text("path_pattern\nC:\\Tools\\*\n\n", encoding="utf-8")
    assert BY_ID["win4658_process_outside_standard_folders"].list.replaced_from(str(edited)).rows == [["C:\\Tools\\*"]]


# --- Splunk ---------------------------------------------------------------------------------------------------

SAVED = configparser.ConfigParser(interpolation=None, strict=True, delimiters=("=",))
SAVED.optionxform = str
SAVED.read(os.path.join(ROOT, "addon", "default", "savedsearches.conf"), encoding="utf-8")


def _spl_literal(text):
    """The value of an SPL double-quoted string literal."""
    return re.sub(r"\\(.)", r"\1", text[1:-1])


def test_every_detection_has_a_disabled_search_from_the_events_macro_to_its_filter():
    sessions = {"win4658_handle_sessions", splunk.sessions_stanza_name(KINDS["handle_lifetime"])}  # test_sessions_*
    detection_stanzas = [name for name in SAVED.sections() if name not in sessions]
    assert detection_stanzas == [splunk.stanza_name(detection) for detection in DETECTIONS]
    for detection in DETECTIONS:
        stanza = SAVED[splunk.stanza_name(detection)]
        assert stanza["search"].startswith("`win4658_events` ")
        assert stanza["search"].endswith(f"| `{detection.id}_filter`")
        assert stanza["disabled"] == "1"
        if detection.kind == "handle_trace":
            assert stanza["enableSched"] == "0" and "cron_schedule" not in stanza
            assert not [
                key for key in stanza if key.startswith(("alert.", "action.risk", "action.correlationsearch.e"))
            ]
        else:
            assert stanza["enableSched"] == "1"
            assert stanza["cron_schedule"] == detection.spec["splunk"]["cron_schedule"]


def _minutes(relative):
    """Minutes before the run of a snapped relative time -<N>m@m (or 0 for now)."""
    return 0 if relative == "now" else int(re.fullmatch(r"-(\d+)m@m", relative).group(1))


@pytest.mark.parametrize(
    "detection", [d for d in DETECTIONS if d.kind not in ("handle_trace", "handle_lifetime")], ids=lambda d: d.id
)
def test_per_event_searches_cover_each_minute_exactly_once(detection):
    stanza = SAVED[splunk.stanza_name(detection)]
    period = {"*/30 * * * *": 30, "*/15 * * * *": 15}[stanza["cron_schedule"]]
    earliest, latest = _minutes(stanza["dispatch.earliest_time"]), _minutes(stanza["dispatch.latest_time"])
    assert earliest - latest == period and latest == 10  # back to back, ten minutes behind for late events
    assert stanza["alert.suppress"] == "0"


def test_the_lifetime_search_overlaps_and_suppresses_on_the_findings_key():
    stanza = SAVED[splunk.stanza_name(KINDS["handle_lifetime"])]
    assert (stanza["cron_schedule"], stanza["dispatch.earliest_time"]) == ("0 * * * *", "-24h@h")
    assert (stanza["alert.suppress"], stanza["alert.digest_mode"], stanza["alert.suppress.period"]) == ("1", "0", "24h")
    key = stanza["alert.suppress.fields"].split(",")
    assert key == ["dest", "process_id", "HandleId", "opened_time"]
    assert set(key) <= set(re.search(r"\| table ([^|]+)", stanza["search"]).group(1).split())


def test_handle_trace_is_a_drill_down_macro():
    macros = configparser.RawConfigParser(interpolation=None, strict=False, delimiters=("=",))
    macros.optionxform = str
    macros.read(os.path.join(ROOT, "addon", "default", "macros.conf"), encoding="utf-8")
    trace = macros["win4658_handle_trace(3)"]
    assert trace["args"] == "dest, process_id, handle_id"
    assert all(f"${arg}$" in trace["definition"] for arg in ("dest", "process_id", "handle_id"))


@pytest.mark.parametrize("detection", DETECTIONS, ids=lambda d: d.id)
def test_each_search_is_an_enterprise_security_correlation_search_with_risk(detection):
    stanza = SAVED[splunk.stanza_name(detection)]
    annotations = json.loads(stanza["action.correlationsearch.annotations"])
    expected_ids = {
        "win4658_unexpected_process": ["T1204"],
        "win4658_process_outside_standard_folders": ["T1036"],
        "win4658_process_in_restricted_folder": ["T1204.002"],
        "win4658_restricted_substring": ["T1003"],
        "win4658_handle_trace": ["T1005"],
        "win4658_handle_lifetime": ["T1005"],
    }
    assert annotations == {"mitre_attack": expected_ids[detection.id]}
    if detection.kind == "handle_trace":
        assert "action.risk" not in stanza
        return
    assert (stanza["action.correlationsearch.enabled"], stanza["action.risk"]) == ("1", "1")
    assert stanza["action.correlationsearch.label"] == f"win4658 - {detection.title} - Rule"
    score = detection.spec["risk_score"]
    assert json.loads(stanza["action.risk.param._risk"]) == [
        {"risk_object_field": "dest", "risk_object_type": "system", "risk_score": score},
        {"risk_object_field": "user", "risk_object_type": "user", "risk_score": score},
    ]
    table = re.search(r"\| table ([^|]+)", stanza["search"]).group(1).split()
    assert {"dest", "user"} <= set(table)
    assert set(re.findall(r"\$(\w+)\$", stanza["action.risk.param._risk_message"])) <= set(table)


def test_searches_use_only_fields_the_add_on_produces():
    for detection in DETECTIONS:
        used = fields_used(SAVED[splunk.stanza_name(detection)]["search"])
        assert used - DETECTION_DERIVED_FIELDS <= SEARCH_FIELDS, detection.id


def test_the_path_normalising_eval_does_what_normalize_path_does():
    literals = re.findall(r'"(?:[^"\\]|\\.)*"', splunk._normalized_path("process_path"))
    prefix, separators, replacement = (_spl_literal(text) for text in (literals[0], literals[2], literals[3]))
    assert literals[1] == '""'
    for raw in (r"\\?\C:\Windows\\System32\x.exe", r"\??\C:/Windows/x.exe", r"C:\Users\NORA~1.QUE\Temp\a.exe"):
        # PCRE replacement text: "\\" is one backslash
        spl_result = re.sub(separators, replacement.replace("\\\\", "\\\\"), re.sub(prefix, "", raw))
        assert spl_result.lower() == normalize_path(raw)


def test_lookups_ship_with_headers_and_wildcard_definitions():
    transforms = configparser.ConfigParser(interpolation=None, strict=False, delimiters=("=",))
    transforms.optionxform = str
    transforms.read(os.path.join(ROOT, "addon", "default", "transforms.conf"), encoding="utf-8")
    for detection in DETECTIONS:
        if detection.list is None:
            continue
        with open(os.path.join(ROOT, "addon", "lookups", detection.list.file_name), encoding="utf-8") as stream:
            assert stream.readline().strip() == ",".join(detection.list.columns)
        stanza = transforms[detection.list.name]
        assert (stanza["filename"], stanza["case_sensitive_match"]) == (detection.list.file_name, "false")
    assert transforms["win4658_standard_folders"]["match_type"] == "WILDCARD(path_pattern)"
    assert transforms["win4658_allowlist"]["match_type"] == "WILDCARD(host), WILDCARD(process_path)"


def test_threshold_macro_holds_the_definitions_threshold():
    macros = configparser.ConfigParser(interpolation=None, strict=False, delimiters=("=",))
    macros.read(os.path.join(ROOT, "addon", "default", "macros.conf"), encoding="utf-8")
    assert macros["win4658_long_handle_seconds"]["definition"] == str(
        KINDS["handle_lifetime"].parameters["long_handle_seconds"]
    )
    assert "`win4658_long_handle_seconds`" in SAVED[splunk.stanza_name(KINDS["handle_lifetime"])]["search"]


def test_detection_objects_expose_their_lists():
    detection = Detection(
        {
            "id": "win4658_x",
            "number": 9,
            "title": "x",
            "condition": {"field": "EventData.ProcessName", "operator": "contains_any", "reason": "contains {match}"},
            "event_ids": [4658],
            "severity": "high",
            "list": {"name": "win4658_x", "columns": ["substring"], "rows": [["a"]]},
        }
    )
    assert detection.list.to_csv() == "substring\na\n"
    condition, rows = detection.condition_and_list()
    assert (condition.operator, rows) == ("contains_any", detection.list)
    with pytest.raises(DefinitionError, match="the contains_any condition has no `by` field"):
        condition.by_field()


@pytest.mark.parametrize("kind", ["handle_trace", "handle_lifetime"])
def test_a_stateful_detection_has_no_condition_to_compare(kind):
    with pytest.raises(DefinitionError, match=f"{KINDS[kind].id}: the {kind} detection has no condition"):
        KINDS[kind].condition_and_list()
