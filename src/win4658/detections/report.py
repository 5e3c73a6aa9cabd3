"""`win4658 hunt --html`: one self-contained HTML file (inline CSS, JS and SVG; nothing fetched) for triage.

The summary, the findings (sortable, filterable, paged by the inline script from an embedded JSON table), a
timeline chart, the handle-lifetime view (histogram, longest handles, per-process statistics), with
``hunt --sessions`` the handle sessions (counts by ending and object type, the longest sessions then the handles
still open at the end of the data in a table like the findings') and the handle traces. Values come from event
logs an attacker may write: text is escaped for HTML, the JSON is embedded with ``<``, ``>`` and ``&`` as \\u
escapes and the script writes it with textContent only; a Content-Security-Policy forbids any load from the network.
"""

import json
from html import escape
from typing import IO, TYPE_CHECKING, Any, Dict, List, Optional

from ..event import Origin
from ..sessions.overview import SessionOverview
from ..times import time_ns
from .definitions import SEVERITIES
from .engine import Finding
from .lifetime import CLOSED, OPEN_AT_END
from .local_hunt import Hunt
from .svg import gantt, histogram, timeline_chart

if TYPE_CHECKING:
    from ..sessions.stream import EndedSession

MAX_EMBEDDED = 200_000  # findings embedded in the file (the rest are counted): memory and file size stay bounded
MAX_SESSIONS_EMBEDDED = 1000  # the longest handle sessions embedded, and as many still open (the rest are counted)
MAX_TRACES = 100
TIMELINE_BINS = 60
ROW_FIELDS = [
    "time",
    "severity",
    "detection",
    "host",
    "user",
    "process",
    "pid",
    "handle",
    "object_type",
    "object_name",
    "duration",
    "reason",
    "file",
    "record",
]
TEXT_FIELDS = ("host", "user", "process", "object_type", "object_name", "reason", "file")
SESSION_ROW_FIELDS = [
    "seconds",
    "opened",
    "closed",
    "host",
    "user",
    "process",
    "pid",
    "handle",
    "object_type",
    "object_name",
    "access_requested",
    "access_used",
    "accesses",
    "file",
    "record",
]
# the columns shown (the closing time is the opening cell's tooltip) and their share of the table's width
SESSION_COLUMNS = {
    "seconds": 5,
    "opened": 7,
    "host": 7,
    "user": 8,
    "process": 11,
    "pid": 4,
    "handle": 4,
    "object_type": 6,
    "object_name": 13,
    "access_requested": 11,
    "access_used": 7,
    "accesses": 4,
    "file": 9,
    "record": 4,
}
SESSION_TEXT_FIELDS = (
    "host",
    "user",
    "process",
    "object_type",
    "object_name",
    "access_requested",
    "access_used",
    "file",
)


class HtmlReport:
    """Collects a hunt's findings (``add``) and handle sessions (``add_session``, when the hunt makes them) and
    writes the report once the hunt is over (``write``)."""

    def __init__(self, hunt: Hunt):
        self.hunt = hunt
        self.detections = {detection.id: detection for detection in hunt.detections}
        self.detection_index = {detection.id: index for index, detection in enumerate(hunt.detections)}
        self.strings: Dict[str, int] = {}  # repeated texts (hosts, processes, files) stored once
        self.rows: List[list] = []
        self.not_embedded = 0
        self.traces: List[dict] = []
        self.sessions = SessionOverview(MAX_SESSIONS_EMBEDDED) if hunt.sessions else None

    def add_session(self, session: "EndedSession") -> None:
        if self.sessions is None:
            raise ValueError("a handle session given to the report of a hunt that makes none")
        self.sessions.add(session.record, session.origin)

    def add(self, finding: Finding) -> None:
        detection = self.detections[finding.detection]
        if detection.drilldown:
            if len(self.traces) < MAX_TRACES:
                self.traces.append(self.hunt.document(finding))
        elif len(self.rows) < MAX_EMBEDDED:
            self.rows.append(self._row(finding))
        else:
            self.not_embedded += 1

    def _row(self, finding: Finding) -> list:
        details = finding.details or {}
        origin = finding.origin
        texts = {
            "host": finding.host,
            "user": finding.user,
            "process": finding.process,
            "object_type": details.get("object_type"),
            "object_name": details.get("object_name"),
            "reason": finding.reason,
            "file": origin.path if origin else None,
        }
        codes = {name: self._code(value) for name, value in texts.items()}
        return [
            finding.time,
            SEVERITIES.index(self.detections[finding.detection].severity),
            self.detection_index[finding.detection],
            codes["host"],
            codes["user"],
            codes["process"],
            finding.process_id,
            finding.handle_id,
            codes["object_type"],
            codes["object_name"],
            details.get("duration_seconds"),
            codes["reason"],
            codes["file"],
            origin.record if origin else None,
        ]

    def _code(self, text: Optional[str]) -> int:
        if text is None:
            return -1
        code = self.strings.get(text)
        if code is None:
            code = self.strings[text] = len(self.strings)
        return code

    def write(self, stream: IO[str]) -> None:
        summary = self.hunt.summary
        stream.write(PAGE_HEAD + session_column_widths() + "</style></head><body>\n<h1>win4658 hunt report</h1>\n")
        stream.write(self._summary_section())
        stream.write(self._timeline_section())
        stream.write(FINDINGS_SECTION)
        stream.write(self._lifetime_section())
        sessions = None
        if self.sessions is not None:
            stream.write(self._sessions_section(self.sessions))
            sessions = {
                "fields": SESSION_ROW_FIELDS,
                "text_fields": SESSION_TEXT_FIELDS,
                "shown": list(SESSION_COLUMNS),
                "rows": [
                    self._session_row(record, origin)
                    for record, origin in self.sessions.longest() + self.sessions.still_open
                ],
            }
        stream.write(self._traces_section())
        data = {
            "fields": ROW_FIELDS,
            "text_fields": TEXT_FIELDS,
            "severities": list(SEVERITIES),
            "strings": list(self.strings),
            "detections": [
                {"id": d.id, "number": d.number, "title": d.title, "severity": d.severity, "mitre": d.attack_ids}
                for d in self.hunt.detections
            ],
            "rows": self.rows,
            "total": sum(summary.findings.values()),
            "sessions": sessions,
        }
        stream.write(f'<script type="application/json" id="data">{embedded_json(data)}</script>')
        stream.write(f"<script>{SCRIPT}</script></body></html>\n")

    def _summary_section(self) -> str:
        summary = self.hunt.summary
        first, last = summary.time_range()
        cards = [("findings", f"{sum(summary.findings.values()):,}")]
        cards += [(severity, f"{count:,}") for severity, count in summary.severities().items()]
        cards += [
            ("hosts", f"{len(summary.hosts):,}"),
            ("files", f"{summary.stats.files:,}"),
            ("records read", f"{summary.stats.records:,}"),
            ("events hunted", f"{summary.events:,}"),
            ("handles traced (drill-down)", f"{sum(summary.drilldowns.values()):,}"),
        ]
        rows = "".join(
            f'<tr data-detection="{escape(d.id)}" data-count="{summary.findings.get(d.id, 0)}">'
            f'<td class="sev {d.severity}">{d.severity}</td><td>{d.number}</td><td>{escape(d.title)}</td>'
            f'<td>{escape(" ".join(d.attack_ids))}</td><td class="num">{summary.findings.get(d.id, 0):,}</td></tr>'
            for d in sorted(self.hunt.detections, key=lambda d: (SEVERITIES.index(d.severity), d.number))
            if not d.drilldown
        )
        hosts = "".join(
            f"<tr><td>{escape(host or '(unknown)')}</td><td class=num>{events:,}</td></tr>"
            for host, events in summary.hosts.most_common(20)
        )
        skipped = (
            ", ".join(f"{escape(reason)}: {count:,}" for reason, count in sorted(summary.skipped.items())) or "none"
        )
        capped = (
            f"<p class=warn>{self.not_embedded:,} findings beyond the first {MAX_EMBEDDED:,} are counted "
            f"but not listed.</p>"
            if self.not_embedded
            else ""
        )
        return (
            '<section id="summary"><h2>Summary</h2><div class="cards">'
            + "".join(f'<div class="card"><b>{value}</b><span>{escape(name)}</span></div>' for name, value in cards)
            + f"</div><p>Time range: {escape(first or '-')} to {escape(last or '-')}. Skipped records: {skipped}."
            + (f" Out of time order beyond the window: {summary.late_events:,}." if summary.late_events else "")
            + f'</p>{capped}<table id="detections" class="sortable"><thead><tr><th>severity</th><th>#</th>'
            f"<th>detection</th><th>ATT&amp;CK</th><th>findings</th></tr></thead><tbody>{rows}</tbody></table>"
            f'<h3>Hosts</h3><table id="hosts" class="sortable"><thead><tr><th>host</th><th>events</th></tr></thead>'
            f"<tbody>{hosts}</tbody></table></section>"
        )

    def _timeline_section(self) -> str:
        times = [(time_ns(row[0]), row[1]) for row in self.rows if row[0]]
        known = [(time, severity) for time, severity in times if time is not None]
        if not known:
            return '<section id="timeline"><h2>Timeline of findings</h2><p>No findings with a time.</p></section>'
        start, end = min(t for t, _s in known), max(t for t, _s in known)
        width = max((end - start) / TIMELINE_BINS, 1)
        bins: List[Dict[str, int]] = [{} for _ in range(TIMELINE_BINS)]
        for time, severity in known:
            counts = bins[min(int((time - start) / width), TIMELINE_BINS - 1)]
            counts[SEVERITIES[severity]] = counts.get(SEVERITIES[severity], 0) + 1
        return (
            '<section id="timeline"><h2>Timeline of findings</h2>'
            + timeline_chart(bins, start, end, list(reversed(SEVERITIES)))
            + "</section>"
        )

    def _lifetime_section(self) -> str:
        lifetime = self.hunt.summary.lifetime
        durations = self.hunt.durations
        longest = durations.longest()
        chart = gantt(longest, [time_ns(h["opened"]) for h in longest], [time_ns(h["closed"]) for h in longest])
        longest_rows = "".join(
            f'<tr><td class=num data-value="{h["duration_seconds"]}">{h["duration_seconds"]:,.3f}</td>'
            f"<td>{escape(h['opened'] or '-')}</td><td>{escape(str(h['host'] or '-'))}</td>"
            f"<td>{escape(str(h['process'] or '-'))}</td><td>{escape(str(h['handle_id'] or '-'))}</td>"
            f"<td>{escape(str(h['object_type'] or '-'))}</td><td>{escape(str(h['object_name'] or '-'))}</td>"
            f"<td>{escape(h['source'])}</td></tr>"
            for h in longest
        )
        by_process = sorted(lifetime.get("by_process", {}).items(), key=lambda item: -item[1]["handles"])[:200]
        process_rows = "".join(
            f"<tr><td>{escape(process)}</td><td class=num>{stats['handles']:,}</td>"
            f'<td class=num data-value="{stats["mean_seconds"]}">{stats["mean_seconds"]:,.3f}</td>'
            f'<td class=num data-value="{stats["longest_seconds"]}">{stats["longest_seconds"]:,.3f}</td></tr>'
            for process, stats in by_process
        )
        return (
            '<section id="lifetime"><h2>Handle lifetime</h2>'
            f"<p>Closes {lifetime.get('closes', 0):,}, paired with their open {lifetime.get('paired', 0):,}, "
            f"unmatched {lifetime.get('unmatched_closes', 0):,}; still open {lifetime.get('still_open', 0):,}; "
            f"long-handle threshold {self.hunt.long_handle_seconds:g} s.</p>"
            "<h3>How long paired handles were open</h3>"
            + histogram(durations.histogram(), "handle durations")
            + f"<h3>The {len(longest)} longest handles</h3>{chart}"
            '<table id="longest" class="sortable"><thead><tr><th>seconds</th><th>opened</th><th>host</th>'
            "<th>process</th><th>handle</th><th>object type</th><th>object name</th><th>source</th></tr></thead>"
            f"<tbody>{longest_rows}</tbody></table>"
            '<h3>Per process</h3><table id="processes" class="sortable"><thead><tr><th>process</th><th>handles</th>'
            f"<th>mean s</th><th>longest s</th></tr></thead><tbody>{process_rows}</tbody></table></section>"
        )

    def _sessions_section(self, sessions: SessionOverview) -> str:
        cards = [("sessions", sessions.total)] + sessions.ending_counts()
        type_rows = "".join(
            f"<tr><td>{escape(object_type)}</td><td class=num>{counts.sessions:,}</td>"
            + "".join(f"<td class=num>{counts.endings[ending]:,}</td>" for ending, _count in sessions.ending_counts())
            + f'<td class=num>{counts.accesses:,}</td><td class=num data-value="{counts.longest_ns / 1e9}">'
            + (f"{counts.longest_ns / 1e9:,.3f}" if counts.endings[CLOSED] else "-")
            + "</td></tr>"
            for object_type, counts in sessions.by_object_type()
        )
        ending_headings = "".join(f"<th>{ending.replace('_', ' ')}</th>" for ending, _count in sessions.ending_counts())
        listed = min(sessions.with_duration, sessions.kept)
        more = sessions.with_duration - listed
        still_open = len(sessions.still_open)
        open_more = sessions.endings[OPEN_AT_END] - still_open
        return (
            '<section id="sessions"><h2>Handle sessions</h2><p>One per handle, from its 4656 to its 4658 with the '
            "4663 accesses between, as <code>win4658 convert --to sessions</code> gives them; how each ended:</p>"
            '<div class="cards">'
            + "".join(
                f'<div class="card" data-ending="{name}"><b>{count:,}</b><span>{name.replace("_", " ")}</span></div>'
                for name, count in cards
            )
            + "</div>"
            + histogram([(name.replace("_", " "), count) for name, count in cards[1:]], "handle sessions by ending")
            + '<h3>By object type</h3><table id="session-types" class="sortable"><thead><tr><th>object type</th>'
            f"<th>sessions</th>{ending_headings}<th>accesses</th><th>longest s</th></tr></thead>"
            f"<tbody>{type_rows}</tbody></table>"
            f"<h3>The {listed:,} longest sessions"
            + (f", then {still_open:,} still open at the end of the data" if still_open else "")
            + "</h3>"
            + (
                f'<p class=warn id="sessions-more">{more:,} more sessions with a duration are not shown (the report '
                f"keeps the {sessions.kept:,} longest).</p>"
                if more
                else ""
            )
            + (
                f'<p class=warn id="sessions-open-more">{open_more:,} more sessions still open at the end of the data '
                f"are not shown (the report keeps the {sessions.kept:,} opened first).</p>"
                if open_more
                else ""
            )
            + '<div class="controls"><input id="sessions-filter" type="search" placeholder="filter: any text (host, '
            'process, object, access...)"><select id="sessions-type"><option value="">every object type</option>'
            '</select><span id="sessions-match-count"></span><button id="sessions-previous" type="button">previous'
            '</button><span id="sessions-page"></span><button id="sessions-next" type="button">next</button></div>'
            '<table id="sessions-table"><thead><tr></tr></thead><tbody></tbody></table></section>'
        )

    def _session_row(self, record: Dict[str, Any], origin: Origin) -> list:
        user = "\\".join(part for part in (record.get("user_domain"), record.get("user_name")) if part) or None
        texts = {
            "host": record.get("host"),
            "user": user,
            "process": record.get("process_executable"),
            "object_type": record.get("object_type"),
            "object_name": record.get("object_name"),
            "access_requested": " ".join(record.get("access_requested", ())) or None,
            "access_used": " ".join(record.get("access_used", ())) or None,
            "file": origin.path,
        }
        codes = {name: self._code(value) for name, value in texts.items()}
        return [
            record.get("duration_seconds"),  # none: still open at the end of the data
            record.get("start"),
            record.get("end"),
            codes["host"],
            codes["user"],
            codes["process"],
            record["process_id_hex"],
            record["handle_id"],
            codes["object_type"],
            codes["object_name"],
            codes["access_requested"],
            codes["access_used"],
            record["access_count"],
            codes["file"],
            origin.record,
        ]

    def _traces_section(self) -> str:
        items = []
        for trace in self.traces:
            events = "".join(
                f"<li>{escape(str(event.get('time') or '-'))} {event.get('event_id')} "
                f"{escape(str(event.get('access_mask') or ''))} "
                f"{escape(str(event.get('object_name') or ''))}</li>"
                for event in trace.get("events", [])
            )
            items.append(
                f"<details><summary>{escape(str(trace.get('host') or '-'))} "
                f"{escape(str(trace.get('process') or '-'))} "
                f"handle {escape(str(trace.get('handle_id') or '-'))}: "
                f"{escape(str(trace.get('object_name') or '-'))}</summary><ol>{events}</ol>"
                f"<p>{escape(str(trace.get('source') or ''))}</p></details>"
            )
        total = sum(self.hunt.summary.drilldowns.values())
        return (
            f'<section id="traces"><h2>Handle traces (drill-down, not findings)</h2><p>{total:,} handles were '
            f"accessed between open and close; the first {len(items)} are listed.</p>{''.join(items)}</section>"
        )


def session_column_widths() -> str:
    """CSS: each column of the sessions table its share of the width (a fixed layout: long names wrap in place)."""
    return (
        "".join(
            f"#sessions-table th:nth-child({index}){{width:{share}%}}"
            for index, share in enumerate(SESSION_COLUMNS.values(), 1)
        )
        + "\n"
    )


def embedded_json(data: object) -> str:
    """JSON safe inside a <script> element: no character of it can close the element or start markup."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


PAGE_HEAD = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy"
 content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>win4658 hunt report</title>
<style>
body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.5em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
.cards{display:flex;flex-wrap:wrap;gap:.6em}
.card{border:1px solid #ccc;border-radius:6px;padding:.5em .9em;min-width:7em}
.card b{display:block;font-size:1.4em}.card span{color:#555}
table{border-collapse:collapse;margin:.6em 0;width:100%}
th,td{border:1px solid #ddd;padding:2px 6px;text-align:left;vertical-align:top;overflow-wrap:anywhere}
th{background:#f3f3f3;cursor:pointer;user-select:none;white-space:nowrap}
th.asc:after{content:" \\25B2"}th.desc:after{content:" \\25BC"}
.num{text-align:right;white-space:nowrap}.nowrap{white-space:nowrap}
.sev{font-weight:bold;white-space:nowrap}.critical{color:#7b1fa2}.high{color:#c62828}.medium{color:#ef6c00}.low{color:#1565c0}
.warn{color:#c62828}#controls{display:flex;gap:.6em;flex-wrap:wrap;align-items:center}
#controls input,.controls input{min-width:20em}details{margin:.3em 0}
.controls{display:flex;gap:.6em;flex-wrap:wrap;align-items:center}#sessions-table{font-size:13px;table-layout:fixed}
"""

FINDINGS_SECTION = """<section id="findings"><h2>Findings</h2>
<div id="controls"><input id="filter" type="search" placeholder="filter: any text (host, process, object, file...)">
<select id="severity"><option value="">every severity</option></select>
<select id="detection"><option value="">every detection</option></select>
<span id="match-count"></span>
<button id="previous" type="button">previous</button><span id="page"></span><button id="next"
 type="button">next</button></div>
<table id="findings-table"><thead><tr></tr></thead><tbody></tbody></table></section>
"""

# Renders the findings table from the embedded data, with textContent only (never HTML from the data).
SCRIPT = r"""
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("data").textContent);
  const S = data.strings, PAGE = 100;
  const columns = fields => Object.fromEntries(fields.map((name, i) => [name, i]));
  const text = (v) => v < 0 ? "" : S[v];
  // A table drawn from embedded rows: sorted by a click on a heading, filtered by text and by selects, paged.
  // t: ids {table, filter, count, page, previous, next}; rows; shown (column names); heading(name);
  // value(row, name) (what is shown, and sorted on unless sortValue says otherwise); selects [[element, test]];
  // order (the first order, row indexes); noun; decorate(td, name, row).
  function pagedTable(t) {
    const rows = t.rows, sortValue = t.sortValue || t.value;
    const haystack = rows.map(row => t.shown.map(name => String(t.value(row, name))).join("\u0001").toLowerCase());
    let order = t.order, matches = order, page = 0, sortBy = null, descending = false;
    const head = document.querySelector("#" + t.ids.table + " thead tr");
    const body = document.querySelector("#" + t.ids.table + " tbody");
    const filter = document.getElementById(t.ids.filter), count = document.getElementById(t.ids.count);
    for (const name of t.shown) {
      const th = document.createElement("th");
      th.textContent = t.heading(name);
      th.addEventListener("click", () => sortRows(name, th));
      head.appendChild(th);
    }
    function sortRows(name, th) {
      descending = sortBy === name ? !descending : false;
      sortBy = name;
      head.querySelectorAll("th").forEach(h => h.className = "");
      th.className = descending ? "desc" : "asc";
      order = order.slice().sort((a, b) => {
        const x = sortValue(rows[a], name), y = sortValue(rows[b], name);
        const c = (typeof x === "number" && typeof y === "number") ? x - y : String(x).localeCompare(String(y));
        return descending ? -c : c;
      });
      apply();
    }
    function apply() {
      const wanted = filter.value.toLowerCase();
      const chosen = t.selects.map(([select, test]) => [select.value, test]);
      matches = order.filter(i => chosen.every(([v, test]) => v === "" || test(rows[i], Number(v)))
        && (wanted === "" || haystack[i].includes(wanted)));
      page = 0;
      render();
    }
    function render() {
      const pages = Math.max(Math.ceil(matches.length / PAGE), 1);
      page = Math.min(Math.max(page, 0), pages - 1);
      count.textContent = matches.length + " of " + rows.length + " " + t.noun;
      count.dataset.matches = String(matches.length);
      document.getElementById(t.ids.page).textContent = "page " + (page + 1) + " of " + pages;
      const fragment = document.createDocumentFragment();
      for (const i of matches.slice(page * PAGE, (page + 1) * PAGE)) {
        const tr = document.createElement("tr");
        for (const name of t.shown) {
          const td = document.createElement("td");
          td.textContent = String(t.value(rows[i], name));
          t.decorate(td, name, rows[i]);
          tr.appendChild(td);
        }
        fragment.appendChild(tr);
      }
      body.replaceChildren(fragment);
    }
    let pending = null;
    filter.addEventListener("input", () => { clearTimeout(pending); pending = setTimeout(apply, 150); });
    for (const [select] of t.selects) select.addEventListener("change", apply);
    document.getElementById(t.ids.previous).addEventListener("click", () => { page -= 1; render(); });
    document.getElementById(t.ids.next).addEventListener("click", () => { page += 1; render(); });
    apply();
  }

  const col = columns(data.fields);
  const TEXT = new Set(data.text_fields);
  function finding(row, name) {
    if (name === "att&ck") return data.detections[row[col.detection]].mitre.join(" ");
    const v = row[col[name]];
    if (TEXT.has(name)) return text(v);
    if (name === "severity") return data.severities[v];
    if (name === "detection") return data.detections[v].number;
    return v === null || v === undefined ? "" : v;
  }
  const severitySelect = document.getElementById("severity"), detectionSelect = document.getElementById("detection");
  data.severities.forEach((s, i) => severitySelect.add(new Option(s, String(i))));
  data.detections.forEach((d, i) => detectionSelect.add(new Option(d.number + ". " + d.title, String(i))));
  pagedTable({
    ids: {table: "findings-table", filter: "filter", count: "match-count", page: "page", previous: "previous",
          next: "next"},
    rows: data.rows, noun: "findings",
    shown: ["time", "severity", "detection", "att&ck", "host", "user", "process", "pid", "handle", "object_name",
            "duration", "reason", "file", "record"],
    heading: name => name === "detection" ? "#" : name.replace("_", " "),
    value: finding,
    sortValue: (row, name) => name === "severity" ? row[col.severity] : finding(row, name),
    selects: [[severitySelect, (row, v) => row[col.severity] === v],
              [detectionSelect, (row, v) => row[col.detection] === v]],
    // triage order first: the most severe, then as found (time order)
    order: data.rows.map((_, i) => i).sort((a, b) => data.rows[a][col.severity] - data.rows[b][col.severity] || a - b),
    decorate: (td, name, row) => {
      if (name === "severity") td.className = "sev " + td.textContent;
      if (name === "detection") td.title = data.detections[row[col.detection]].title;
      if (name === "time") td.className = "nowrap";
    },
  });

  if (data.sessions) {
    const sessions = data.sessions, scol = columns(sessions.fields), STEXT = new Set(sessions.text_fields);
    const SECONDS = new Intl.NumberFormat("en-US", {minimumFractionDigits: 3, maximumFractionDigits: 3});
    const session = (row, name) => {
      const v = row[scol[name]];
      if (STEXT.has(name)) return text(v);
      return v === null || v === undefined ? "" : v;
    };
    const typeSelect = document.getElementById("sessions-type");
    [...new Set(sessions.rows.map(row => row[scol.object_type]))].sort((a, b) => text(a).localeCompare(text(b)))
      .forEach(code => typeSelect.add(new Option(text(code) || "(none)", String(code))));
    pagedTable({
      ids: {table: "sessions-table", filter: "sessions-filter", count: "sessions-match-count",
            page: "sessions-page", previous: "sessions-previous", next: "sessions-next"},
      rows: sessions.rows, noun: "sessions", shown: sessions.shown,
      heading: name => name.replace(/_/g, " "),
      value: (row, name) => name !== "seconds" ? session(row, name)
        : row[scol.seconds] === null ? "open" : SECONDS.format(row[scol.seconds]),
      // a handle still open has been open the longest of all it was opened before: sorted as the longest
      sortValue: (row, name) => name === "seconds" && row[scol.seconds] === null ? Infinity : session(row, name),
      selects: [[typeSelect, (row, v) => row[scol.object_type] === v]],
      order: sessions.rows.map((_, i) => i),  // the longest first, then the still open, as embedded
      decorate: (td, name, row) => {
        if (name === "seconds" || name === "accesses") td.className = "num";
        if (name === "pid" || name === "handle") td.className = "nowrap";
        if (name === "opened") {
          const closed = row[scol.closed];
          td.title = closed === null ? "still open at the end of the data" : "closed " + session(row, "closed");
        }
        if (name === "file") { td.title = td.textContent; td.textContent = td.textContent.split(/[\\/!]/).pop(); }
      },
    });
  }
  for (const table of document.querySelectorAll("table.sortable")) {
    table.querySelectorAll("th").forEach((th, index) => th.addEventListener("click", () => {
      const down = th.className === "asc";
      table.querySelectorAll("th").forEach(h => h.className = "");
      th.className = down ? "desc" : "asc";
      const cell = tr => { const td = tr.children[index];
        return td.dataset.value !== undefined ? Number(td.dataset.value)
        : (td.classList.contains("num") ? Number(td.textContent.replace(/,/g, "")) : td.textContent); };
      const tbody = table.tBodies[0];
      const sorted = Array.from(tbody.rows).sort((a, b) => { const x = cell(a), y = cell(b);
        const c = typeof x === "number" ? x - y : String(x).localeCompare(String(y)); return down ? -c : c; });
      tbody.replaceChildren(...sorted);
    }));
  }
  document.body.dataset.loadMs = String(Math.round(performance.now()));
  document.body.dataset.ready = "1";
})();
"""
