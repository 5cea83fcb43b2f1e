"""The page at ``/``: plain HTML, CSS and a little JavaScript, no build step.

Drop recordings to grade (each with its progress bar: the upload, then the grading,
pushed by server-sent events), the history of graded files (grade, what limits it in
GRADING.md's words, date, reports) and the HTML report opened inline. Grade colours
come from :mod:`vinylmon.grading.names` (``/grades.css``), as in the monitor and the
HTML report.
"""

from __future__ import annotations

import html

from vinylmon import __version__
from vinylmon.cli.grade import AUDIO_SUFFIXES
from vinylmon.grading.names import DEFAULT_COLOR, GRADE_COLORS, text_color_on


def grade_css() -> str:
    """A badge colour per grade, from the palette: ``.grade[data-grade="VG+"]``."""
    rules = [f'.grade{{background:{DEFAULT_COLOR};color:{text_color_on(DEFAULT_COLOR)}}}']
    for grade, color in GRADE_COLORS.items():
        rules.append(f'.grade[data-grade="{grade}"]{{background:{color};'
                     f'color:{text_color_on(color)}}}')
        rules.append(f'.bar[data-grade="{grade}"] > span{{background:{color}}}')
    return "\n".join(rules) + "\n"


_BASE_CSS = """/* the pages' palette and frame, one for both */
:root { --bg:#14181f; --panel:#1c222b; --line:#2c3440; --text:#e6ebf2; --dim:#98a3b3;
        --accent:#5aa9ff; --bad:#ff6b6b; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--text);
       font:15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; }
header { padding:18px 28px 8px; display:flex; align-items:baseline; gap:14px; }
header h1 { margin:0; font-size:22px; letter-spacing:.3px; }
header span { color:var(--dim); }
"""

#: The start of every page's ``<head>``, down to its own style rules (its title
#: filled in by :func:`_page`).
_HEAD = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>__TITLE__</title>
<link rel="stylesheet" href="grades.css">
<style>
__BASE_CSS__"""


def _page(template: str, *, title: str) -> str:
    """``template`` with the shared head (``__HEAD__``) and base style filled in."""
    return (template.replace("__HEAD__", _HEAD.replace("__TITLE__", html.escape(title)))
            .replace("__BASE_CSS__", _BASE_CSS))


_PAGE = """__HEAD__\
main { padding:0 28px 28px; max-width:1200px; }
section { background:var(--panel); border:1px solid var(--line); border-radius:8px;
          padding:16px 18px; margin-top:16px; }
h2 { font-size:16px; margin:0 0 12px; }
#drop { border:2px dashed var(--line); border-radius:8px; padding:26px; text-align:center;
        color:var(--dim); transition:border-color .15s, background .15s; }
#drop.over { border-color:var(--accent); background:#1f2a38; }
#drop label.button { display:inline-block; margin-top:8px; }
.button, button { background:#2a3442; color:var(--text); border:1px solid #3a4656;
         border-radius:5px; padding:5px 12px; font:inherit; cursor:pointer; }
.button:hover, button:hover { border-color:var(--accent); }
#file { position:absolute; width:1px; height:1px; opacity:0; }
.fields { display:flex; flex-wrap:wrap; gap:10px 16px; margin-top:14px; color:var(--dim); }
.fields label { display:flex; align-items:center; gap:6px; }
.fields input, .fields select { background:#11151b; color:var(--text);
         border:1px solid var(--line); border-radius:4px; padding:4px 6px; font:inherit; }
.fields input { width:150px; }
#uploads { list-style:none; margin:12px 0 0; padding:0; }
#uploads li { display:grid; grid-template-columns:minmax(120px,260px) 1fr 200px; gap:12px;
              align-items:center; padding:5px 0; }
#uploads .name { overflow:hidden; text-overflow:ellipsis; white-space:nowrap; }
#uploads .state { color:var(--dim); font-size:13px; }
#uploads .state.failed { color:var(--bad); }
.bar { height:10px; background:#11151b; border:1px solid var(--line); border-radius:5px;
       overflow:hidden; }
.bar > span { display:block; height:100%; width:0; background:var(--accent);
              transition:width .2s; }
table { width:100%; border-collapse:collapse; }
th, td { text-align:left; padding:7px 8px; border-bottom:1px solid var(--line);
         vertical-align:middle; }
th { color:var(--dim); font-weight:600; font-size:13px; }
td.reason { color:#cfd6e0; font-size:14px; }
td.reason .criterion { font-weight:600; }
td.date { white-space:nowrap; color:var(--dim); font-size:13px; }
td.links { white-space:nowrap; }
td.links a, td.links button { margin-right:6px; }
a { color:var(--accent); }
.grade { display:inline-block; min-width:44px; text-align:center; font-weight:700;
         border-radius:4px; padding:2px 6px; }
.status { color:var(--dim); font-size:13px; }
.status.failed { color:var(--bad); }
.empty { color:var(--dim); padding:10px 0; }
#viewer[hidden] { display:none; }
#viewer .top { display:flex; justify-content:space-between; align-items:center; }
#viewer iframe { width:100%; height:80vh; border:1px solid var(--line); border-radius:6px;
                 background:#fff; margin-top:8px; }
footer { color:var(--dim); font-size:12px; padding:0 28px 20px; }
</style>
</head>
<body>
<header><h1>vinylmon</h1><span>grade needle-drop recordings on the Goldmine scale</span>
<a href="live" id="live-link">Listen live (microphone)</a></header>
<main>
<section>
  <h2>Grade recordings</h2>
  <div id="drop">
    Drop recordings here (FLAC, WAV, OGG, MP3, ...)<br>
    <label class="button" for="file">or choose files</label>
    <input id="file" type="file" multiple accept="audio/*,__ACCEPT__">
  </div>
  <div class="fields">
    <label>Speed <select id="rpm"><option value="auto">auto (estimated)</option>
      <option value="33 1/3">33 1/3 rpm</option><option value="45">45 rpm</option>
      <option value="78">78 rpm</option></select></label>
    <label>Artist <input id="artist" maxlength="200"></label>
    <label>Title <input id="title" maxlength="200"></label>
    <label>Side <input id="side" maxlength="200" style="width:60px"></label>
  </div>
  <ul id="uploads"></ul>
</section>
<section>
  <h2>History</h2>
  <table id="history">
    <thead><tr><th>Grade</th><th>File</th><th>Limited by</th><th>Date</th>
      <th>Reports</th><th></th></tr></thead>
    <tbody></tbody>
  </table>
  <div class="empty" id="empty">Nothing graded yet.</div>
</section>
<section id="viewer" hidden>
  <div class="top"><h2 id="viewer-title">Report</h2>
    <button id="viewer-close" type="button">Close</button></div>
  <iframe id="report" title="HTML report"></iframe>
</section>
</main>
<footer>vinylmon __VERSION__: the grade follows GRADING.md; reports are kept on this
machine until deleted.</footer>
<script>
"use strict";
const token = new URLSearchParams(location.search).get("token");
function api(path) {
  return token ? path + (path.includes("?") ? "&" : "?") + "token=" +
                 encodeURIComponent(token) : path;
}
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "text") e.textContent = v; else e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k);
  return e;
}
function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return d.toLocaleDateString(undefined, {year:"numeric", month:"short", day:"numeric"}) +
         " " + d.toLocaleTimeString(undefined, {hour:"2-digit", minute:"2-digit"});
}
function statusText(job) {
  if (job.status === "running") return "grading " + Math.round(job.progress * 100) + " %";
  if (job.status === "queued") return "queued";
  if (job.status === "failed") return "failed: " + (job.error || "");
  return job.status;
}
function reasonCell(job) {
  // GRADING.md's name of the limiting criterion, then the reason as the CLI says it
  const cell = el("td", {class: "reason"});
  if (job.limited_by_name) {
    cell.append(el("div", {class: "criterion", text: job.limited_by_name}));
    const prefix = "limited by " + job.limited_by_name + ": ";
    const reason = (job.reason || "").startsWith(prefix) ? job.reason.slice(prefix.length)
                                                         : job.reason;
    if (reason) cell.append(el("div", {class: "status", text: reason}));
  } else if (job.reason) {
    cell.append(el("div", {text: job.reason}));
  }
  return cell;
}
function openReport(job) {
  document.getElementById("viewer").hidden = false;
  document.getElementById("viewer-title").textContent = "Report: " + job.name;
  document.getElementById("report").src = api(job.report_html);
  document.getElementById("viewer").scrollIntoView({behavior: "smooth"});
}
document.getElementById("viewer-close").onclick = () => {
  document.getElementById("viewer").hidden = true;
  document.getElementById("report").src = "about:blank";
};
async function refresh() {
  const r = await fetch(api("/api/jobs"));
  if (!r.ok) return;
  const jobs = (await r.json()).jobs;
  const body = document.querySelector("#history tbody");
  body.replaceChildren();
  document.getElementById("empty").hidden = jobs.length > 0;
  for (const job of jobs) {
    const grade = job.grade ? el("span", {class: "grade", "data-grade": job.grade,
                                          text: job.grade})
                            : el("span", {class: "status " + job.status,
                                          text: statusText(job)});
    const record = [job.record.artist, job.record.title,
                    job.record.side && "side " + job.record.side].filter(Boolean).join(", ");
    const file = el("td", {}, el("div", {text: job.name}));
    if (record) file.append(el("div", {class: "status", text: record}));
    const links = el("td", {class: "links"});
    if (job.status === "done") {
      const open = el("button", {type: "button", text: "Open"});
      open.onclick = () => openReport(job);
      links.append(open, el("a", {href: api(job.report_html), target: "_blank", text: "HTML"}),
                   el("a", {href: api(job.report_json), target: "_blank", text: "JSON"}));
    }
    const del = el("button", {type: "button", title: "Delete this job and its reports",
                              text: "Delete"});
    del.onclick = async () => {
      await fetch(api("/api/jobs/" + job.id), {method: "DELETE"});
      refresh();
    };
    const row = el("tr", {"data-id": job.id, "data-status": job.status},
                   el("td", {}, grade), file,
                   reasonCell(job),
                   el("td", {class: "date", text: when(job.created)}), links,
                   el("td", {}, del));
    body.append(row);
  }
}
function follow(id, item) {
  const bar = item.querySelector(".bar > span");
  const state = item.querySelector(".state");
  const events = new EventSource(api("/api/jobs/" + id + "/events"));
  events.onmessage = (e) => {
    const job = JSON.parse(e.data);
    bar.style.width = (job.status === "done" ? 100 : job.progress * 100) + "%";
    state.textContent = job.status === "done" ? "done: " + job.grade : statusText(job);
    state.classList.toggle("failed", job.status === "failed");
    if (job.grade) item.querySelector(".bar").dataset.grade = job.grade;
    if (job.status === "done" || job.status === "failed") { events.close(); refresh(); }
  };
  events.addEventListener("deleted", () => { events.close(); state.textContent = "deleted"; });
  events.onerror = () => { if (events.readyState === EventSource.CLOSED) refresh(); };
}
function upload(file) {
  const item = el("li", {}, el("span", {class: "name", text: file.name, title: file.name}),
                  el("div", {class: "bar"}, el("span")), el("span", {class: "state",
                                                               text: "uploading"}));
  document.getElementById("uploads").prepend(item);
  const bar = item.querySelector(".bar > span");
  const state = item.querySelector(".state");
  const form = new FormData();
  form.append("file", file);
  for (const k of ["rpm", "artist", "title", "side"]) {
    const v = document.getElementById(k).value.trim();
    if (v) form.append(k, v);
  }
  const xhr = new XMLHttpRequest();
  xhr.open("POST", api("/api/jobs"));
  if (token) xhr.setRequestHeader("Authorization", "Bearer " + token);
  xhr.upload.onprogress = (e) => {
    if (e.lengthComputable) {
      bar.style.width = (100 * e.loaded / e.total) + "%";
      state.textContent = "uploading " + Math.round(100 * e.loaded / e.total) + " %";
    }
  };
  xhr.onload = () => {
    let answer = {};
    try { answer = JSON.parse(xhr.responseText); } catch (err) { answer = {}; }
    if (xhr.status === 202) {
      bar.style.width = "0%";
      state.textContent = "queued";
      refresh();
      follow(answer.id, item);
    } else {
      state.textContent = answer.error || ("upload failed (" + xhr.status + ")");
      state.classList.add("failed");
    }
  };
  xhr.onerror = () => { state.textContent = "upload failed"; state.classList.add("failed"); };
  xhr.send(form);
}
const drop = document.getElementById("drop");
const input = document.getElementById("file");
input.onchange = () => { for (const f of input.files) upload(f); input.value = ""; };
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault(); drop.classList.remove("over");
  for (const f of e.dataTransfer.files) upload(f);
});
refresh();
setInterval(refresh, 10000);
</script>
</body>
</html>
"""


def index_html() -> str:
    """The page at ``/``."""
    accept = ",".join(sorted(AUDIO_SUFFIXES))
    return (_page(_PAGE, title="vinylmon: grade recordings")
            .replace("__ACCEPT__", html.escape(accept))
            .replace("__VERSION__", html.escape(__version__)))


_LIVE = """__HEAD__\
main { padding:0 28px 28px; display:grid; grid-template-columns:1fr 300px; gap:16px;
       max-width:1300px; }
section { background:var(--panel); border:1px solid var(--line); border-radius:8px;
          padding:14px 16px; }
h2 { font-size:15px; margin:0 0 10px; color:var(--dim); font-weight:600; }
button { background:#2a3442; color:var(--text); border:1px solid #3a4656; border-radius:5px;
         padding:6px 16px; font:inherit; cursor:pointer; }
button:hover { border-color:var(--accent); }
canvas { width:100%; display:block; background:#0b0e12; border-radius:4px; }
#status { color:var(--dim); margin-left:10px; }
#status.failed { color:var(--bad); }
.grade { display:inline-block; min-width:64px; text-align:center; font-weight:700;
         font-size:28px; border-radius:6px; padding:4px 10px; }
#reason { color:#cfd6e0; margin-top:8px; min-height:2.6em; }
.row { display:grid; grid-template-columns:44px 1fr 48px; gap:8px; align-items:center;
       font-size:13px; margin:3px 0; }
.bar { height:10px; background:#11151b; border:1px solid var(--line); border-radius:5px;
       overflow:hidden; }
.bar > span { display:block; height:100%; width:0; background:var(--accent); }
.dim { color:var(--dim); font-size:13px; }
a { color:var(--accent); }
</style>
</head>
<body>
<header><h1>vinylmon</h1><span>listen live: the browser's microphone or line-in</span>
<a href="./">grade files</a></header>
<main>
<div>
<section>
  <button id="start" type="button">Start listening</button>
  <button id="stop" type="button" disabled>Stop</button>
  <span id="status">Not listening.</span>
  <p class="dim">Your browser asks for the microphone; the sound goes to this vinylmon
  server only, graded 5 s at a time as the desktop monitor grades it.</p>
</section>
<section style="margin-top:16px">
  <h2>Spectrogram (the last 20 s, 0-22 kHz)</h2>
  <canvas id="spectrogram" width="900" height="260"></canvas>
</section>
<section style="margin-top:16px">
  <h2>Events (ticks: time of each click, crackle, pop, scratch; height: level)</h2>
  <canvas id="events" width="900" height="120"></canvas>
  <div class="dim"><span id="event-count">0</span> events in <span id="windows">0</span>
  windows analysed, <span id="heard">0:00</span> heard</div>
</section>
</div>
<div>
<section>
  <h2>Grade of the side so far</h2>
  <span class="grade" id="grade" data-grade="">–</span>
  <div id="reason">waiting for the first window…</div>
  <div id="bars"></div>
</section>
<section style="margin-top:16px">
  <h2>This window's likelihoods</h2>
  <div id="classes"></div>
</section>
</div>
</main>
<script>
const GRADES = __GRADES__;
const KIND_COLORS = __KIND_COLORS__;
const token = new URLSearchParams(location.search).get("token");
const $ = (id) => document.getElementById(id);
let ctx = null, ws = null, analyser = null, node = null, stream = null, timer = null;
let events = [], heard = 0, windows = 0;
const spec = $("spectrogram"), sg = spec.getContext("2d");
const ev = $("events"), eg = ev.getContext("2d");

function bars(el, names, values, colors) {
  el.innerHTML = "";
  for (const n of names) {
    const row = document.createElement("div"); row.className = "row";
    const p = values ? (values[n] || 0) : 0;
    row.innerHTML = `<span>${n}</span><div class="bar" data-grade="${n}"><span></span></div>` +
                    `<span>${Math.round(100 * p)} %</span>`;
    row.querySelector(".bar > span").style.width = (100 * p).toFixed(1) + "%";
    if (colors && colors[n]) row.querySelector(".bar > span").style.background = colors[n];
    el.appendChild(row);
  }
}
bars($("bars"), GRADES, null);

function clock(s) { const m = Math.floor(s / 60); return m + ":" +
                    String(Math.floor(s % 60)).padStart(2, "0"); }

function drawEvents() {
  eg.fillStyle = "#0b0e12"; eg.fillRect(0, 0, ev.width, ev.height);
  const span = Math.max(30, heard);
  for (const e of events) {
    const x = e.start_s / span * ev.width;
    const h = Math.max(8, Math.min(1, (e.peak_db + 40) / 60) * (ev.height - 10));
    eg.fillStyle = KIND_COLORS[e.kind] || "#ccc";
    eg.fillRect(x, ev.height - h, 2, h);
  }
}

function onMessage(m) {
  if (m.type === "error") { say("Stopped: " + m.message, true); stop(false); return; }
  if (m.type === "end") return;
  if (m.type !== "window") return;
  windows += 1; heard = m.heard_s;
  events = events.concat(m.events);
  $("windows").textContent = windows; $("heard").textContent = clock(heard);
  $("event-count").textContent = events.length;
  if (m.classes) bars($("classes"), Object.keys(m.classes), m.classes);
  if (m.grade) {
    $("grade").textContent = m.grade.grade; $("grade").dataset.grade = m.grade.grade;
    $("reason").textContent = m.grade.reason;
    bars($("bars"), GRADES, m.grade.probs);
  } else if (m.silent) { $("reason").textContent = "silence: not graded"; }
  drawEvents();
}

function say(text, failed) { $("status").textContent = text;
                             $("status").className = failed ? "failed" : ""; }

function drawSpectrogram() {
  if (!analyser) return;
  const bins = new Uint8Array(analyser.frequencyBinCount);
  analyser.getByteFrequencyData(bins);
  sg.drawImage(spec, -2, 0);
  const h = spec.height;
  for (let y = 0; y < h; y++) {
    const v = bins[Math.floor((h - 1 - y) / h * bins.length)];
    sg.fillStyle = `rgb(${v},${Math.floor(v * 0.6)},${Math.floor(80 + v / 3)})`;
    sg.fillRect(spec.width - 2, y, 2, 1);
  }
}

async function start() {
  $("start").disabled = true;
  say("Asking for the microphone…");
  try {
    stream = await navigator.mediaDevices.getUserMedia({audio: {echoCancellation: false,
      noiseSuppression: false, autoGainControl: false, channelCount: 2}});
  } catch (e) { say("No microphone: " + e.message, true); $("start").disabled = false; return; }
  ctx = new AudioContext();
  await ctx.audioWorklet.addModule("live-worklet.js");
  const src = ctx.createMediaStreamSource(stream);
  analyser = ctx.createAnalyser(); analyser.fftSize = 1024; analyser.smoothingTimeConstant = 0;
  node = new AudioWorkletNode(ctx, "vinylmon-tap", {numberOfInputs: 1, numberOfOutputs: 0,
                              channelCount: 2, channelCountMode: "explicit"});
  src.connect(analyser); src.connect(node);
  const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host +
              location.pathname.replace(/live$/, "") + "api/live" +
              (token ? "?token=" + encodeURIComponent(token) : "");
  ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  let pending = [], frames = 0;
  ws.onopen = () => {
    ws.send(JSON.stringify({sample_rate: ctx.sampleRate, channels: 2}));
    say("Listening (" + ctx.sampleRate + " Hz): the first grade comes after 5 s of sound.");
    $("stop").disabled = false;
    node.port.onmessage = (e) => {
      pending.push(e.data); frames += e.data.length / 2;
      if (frames >= ctx.sampleRate / 10 && ws.readyState === 1) {
        const out = new Float32Array(frames * 2); let o = 0;
        for (const b of pending) { out.set(b, o); o += b.length; }
        ws.send(out.buffer); pending = []; frames = 0;
      }
    };
  };
  ws.onmessage = (e) => onMessage(JSON.parse(e.data));
  ws.onclose = () => { if (node) { say("The server closed the stream."); stop(false); } };
  ws.onerror = () => say("Cannot reach the server.", true);
  timer = setInterval(drawSpectrogram, 50);
}

function stop(tell) {
  if (node) { node.port.onmessage = null; node.disconnect(); node = null; }
  if (stream) { for (const t of stream.getTracks()) t.stop(); stream = null; }
  if (ctx) { ctx.close(); ctx = null; }
  analyser = null; clearInterval(timer);
  if (ws && tell !== false && ws.readyState === 1) ws.send(JSON.stringify({stop: true}));
  $("start").disabled = false; $("stop").disabled = true;
  if (tell !== false) say("Stopped.");
}

$("start").addEventListener("click", start);
$("stop").addEventListener("click", () => stop(true));
</script>
</body>
</html>
"""

_WORKLET = """// vinylmon /live: each render quantum to the page, frames interleaved.
class Tap extends AudioWorkletProcessor {
  process(inputs) {
    const input = inputs[0];
    if (input && input.length) {
      const n = input[0].length, c = 2;
      const out = new Float32Array(n * c);
      for (let i = 0; i < n; i++) {
        out[2 * i] = input[0][i];
        out[2 * i + 1] = (input[1] || input[0])[i];
      }
      this.port.postMessage(out, [out.buffer]);
    }
    return true;
  }
}
registerProcessor("vinylmon-tap", Tap);
"""


def live_html() -> str:
    """The page at ``/live``: the browser's microphone, analysed by the server."""
    import json

    from vinylmon.grading.names import KIND_COLORS
    from vinylmon.grading.rubric import GRADES
    return (_page(_LIVE, title="vinylmon: listen live")
            .replace("__GRADES__", json.dumps(list(GRADES)))
            .replace("__KIND_COLORS__", json.dumps(dict(KIND_COLORS))))


def live_worklet_js() -> str:
    """The AudioWorklet module the live page loads."""
    return _WORKLET
