import { api, FINAL, liveSocket, loadScript, setStatus } from "./common.js";
import { fileTree } from "./file_tree.js";

const page = JSON.parse(document.getElementById("page-data").textContent);
const TAIL = 256 * 1024;  // runs/views.py LOG_TAIL: the page comes with the script log's tail

// --- tabs: arrow keys move between them, as the WAI-ARIA pattern asks ---------------------
const tabs = [...document.querySelectorAll("[role=tab]")];
function selectTab(tab) {
  for (const other of tabs) {
    const selected = other === tab;
    other.setAttribute("aria-selected", String(selected));
    other.tabIndex = selected ? 0 : -1;
    document.getElementById(other.getAttribute("aria-controls")).hidden = !selected;
  }
  tab.focus();
  history.replaceState(null, "", `#${tab.id.slice(4)}`);
  if (tab.id === "tab-metrics") loadMetrics();
  if (tab.id === "tab-metrics" && window.Plotly) for (const div of charts.values()) Plotly.Plots.resize(div);
  // A hidden log loses its scroll position; one that followed the newest lines goes on doing so.
  if (tab.id === "tab-outputs" && following) logView.scrollTop = logView.scrollHeight;
}
for (const tab of tabs) {
  tab.addEventListener("click", () => selectTab(tab));
  tab.addEventListener("keydown", (key) => {
    const step = { ArrowRight: 1, ArrowLeft: -1 }[key.key];
    if (step) selectTab(tabs[(tabs.indexOf(tab) + step + tabs.length) % tabs.length]);
  });
}

// --- logs: the tail first, older parts on scroll, live lines appended ----------------------
// Offsets count bytes of the stored log, as the websocket's events do.
const logView = document.getElementById("log");
const logChoice = document.getElementById("log-choice");
const ends = { ...page.logs };  // what we have received of every log, by byte offset
const encoder = new TextEncoder();
const decoder = new TextDecoder();
let shownStart = 0;  // the viewer shows bytes shownStart..shownEnd of the chosen log
let shownEnd = 0;
let held = null;  // live events that arrived while the tail was being fetched
let showing = 0;  // which showLog() call is the current one
let loadingOlder = false;
let following = true;  // the user has not scrolled the log up: it shows the newest lines

async function readLog(name, offset, limit) {
  const response = await fetch(`${page.api}/logs/${name}?offset=${offset}&limit=${limit}`);
  return { bytes: new Uint8Array(await response.arrayBuffer()), next: Number(response.headers.get("X-Next-Offset")) };
}

// The whole lines of bytes read from `offset` up to `next`, and where they start: a read
// that does not start the log may begin inside a line (even inside a character).
function wholeLines({ bytes, next }, offset) {
  const kept = offset > 0 ? bytes.subarray(bytes.indexOf(10) + 1) : bytes;
  return { lines: decoder.decode(kept), start: next - kept.length };
}

async function showLog() {
  const name = logChoice.value;
  const call = ++showing;
  held = [];
  const end = ends[name] || 0;
  const from = Math.max(0, end - TAIL);
  const read = await readLog(name, from, end - from);
  if (call !== showing) return;  // another log was chosen meanwhile
  const { lines, start } = wholeLines(read, from);
  logView.textContent = lines;
  [shownStart, shownEnd] = [start, read.next];
  const arrived = held;
  held = null;
  for (const event of arrived) showLive(event);
  logView.scrollTop = logView.scrollHeight;
}

logView.addEventListener("scroll", async () => {
  if (logView.clientHeight) following = logView.scrollHeight - logView.scrollTop - logView.clientHeight < 30;
  if (logView.scrollTop > 50 || shownStart === 0 || loadingOlder || held) return;
  loadingOlder = true;
  const call = showing;
  const from = Math.max(0, shownStart - TAIL);
  const read = await readLog(logChoice.value, from, shownStart - from);
  if (call === showing) {
    const { lines, start } = wholeLines(read, from);
    const height = logView.scrollHeight;
    logView.prepend(lines);
    logView.scrollTop = logView.scrollHeight - height;
    shownStart = start;
  }
  loadingOlder = false;
});
logChoice.addEventListener("change", showLog);

function appendLog(event) {
  ends[event.name] = Math.max(ends[event.name] || 0, event.offset + encoder.encode(event.data).length);
  if (![...logChoice.options].some((option) => option.value === event.name)) logChoice.add(new Option(event.name, event.name));
  addFile({ name: event.name, size: ends[event.name] });  // a log is a file too: its size grows
  if (event.name === logChoice.value) showLive(event);
}

// Show what an event adds after shownEnd: nothing if the viewer has it, the rest if it has
// part of it. A gap (not expected: the socket resumes from what we have) reads the tail again.
// While the tail is on its way, events wait for it.
function showLive(event) {
  if (held) { held.push(event); return; }
  const data = encoder.encode(event.data);
  if (event.offset + data.length <= shownEnd) return;
  if (event.offset > shownEnd) { showLog(); return; }
  logView.append(event.offset === shownEnd ? event.data : decoder.decode(data.subarray(shownEnd - event.offset)));
  shownEnd = event.offset + data.length;
  if (following) logView.scrollTop = logView.scrollHeight;
}

// --- metrics: one chart per numeric series, extended live; zoom re-queries ---------------
const chartsBox = document.getElementById("charts");
const charts = new Map();
const layout = (themed, name) => themed({ title: { text: name }, margin: { t: 40, r: 20 }, xaxis: { title: { text: "step" } }, height: 320 });

// plotly.js and the charts' colours load with the first chart: a page that opens on another
// tab fetches and runs neither.
const charting = () => Promise.all([loadScript(page.plotly), import("./chart_theme.js")]);

async function loadSeries(name, div, range) {
  const [, { themed }] = await charting();
  const query = range ? `&start=${range[0]}&end=${range[1]}` : "";
  const series = await api("GET", `${page.api}/series?name=${encodeURIComponent(name)}${query}`);
  const trace = { x: series.steps, y: series.values.map(Number), mode: "lines", name };
  const view = { ...layout(themed, div.dataset.label || name) };
  if (range) view.xaxis = { ...view.xaxis, range, autorange: false };
  await window.Plotly.react(div, [trace], view, { responsive: true });
  div.dataset.count = series.count;
}

// Series imported from TensorBoard event files say so in their title.
function addChart(name, source) {
  document.getElementById("no-metrics").hidden = true;
  const div = document.createElement("div");
  div.className = "chart";
  div.dataset.label = source === "tensorboard" ? `${name} (TensorBoard)` : name;
  div.setAttribute("aria-label", `Chart of ${div.dataset.label}`);
  div.dataset.metric = name;
  div.dataset.source = source || "sdk";
  chartsBox.append(div);
  charts.set(name, div);
  loadSeries(name, div).then(() => {
    div.on("plotly_relayout", (change) => {
      if ("xaxis.range[0]" in change) loadSeries(name, div, [change["xaxis.range[0]"], change["xaxis.range[1]"]]);
      else if (change["xaxis.autorange"]) loadSeries(name, div);
    });
  });
  return div;
}

const tablesBox = document.getElementById("metric-tables");
async function showOther(metric) {
  const got = (await api("GET", `${page.api}/metrics?name=${encodeURIComponent(metric.name)}`)).metrics[metric.name];
  let box = tablesBox.querySelector(`[data-metric="${CSS.escape(metric.name)}"]`);
  if (!box) {
    box = document.createElement("div");
    box.dataset.metric = metric.name;
    tablesBox.append(box);
  }
  const heading = document.createElement("h3");
  heading.textContent = metric.name;
  box.replaceChildren(heading);
  if (metric.kind === "image") {
    for (const path of [].concat(got)) {
      const image = document.createElement("img");
      image.src = `${page.api}/files/${path}`;
      image.alt = `${metric.name}: ${path}`;
      image.style.maxWidth = "100%";
      box.append(image);
    }
  } else if (metric.kind === "row" || metric.kind === "table") {
    const table = document.createElement("table");
    table.className = "grid";
    const columns = Object.keys(got);
    const head = table.createTHead().insertRow();
    for (const column of columns) head.insertCell().outerHTML = `<th scope="col"></th>`;
    [...head.cells].forEach((cell, i) => { cell.textContent = columns[i]; });
    const count = Math.max(0, ...columns.map((c) => got[c].length));
    for (let i = 0; i < count; i++) {
      const row = table.insertRow();
      for (const column of columns) row.insertCell().textContent = String(got[column][i] ?? "");
    }
    box.append(table);
  } else {
    const pre = document.createElement("pre");
    pre.textContent = JSON.stringify(got, null, 2);
    box.append(pre);
  }
}

// The metrics load when their tab first opens: only then is plotly.js (4.8 MB) fetched.
// Events before that are left to the first query, which includes them.
let metricsLoaded = false;
async function loadMetrics() {
  if (metricsLoaded) return;
  metricsLoaded = true;
  for (const metric of await api("GET", `${page.api}/metric-list`)) {
    if (metric.kind === "scalar" || metric.kind === "list") { if (!charts.has(metric.name)) addChart(metric.name, metric.source); }
    else showOther(metric);
  }
}

function extendCharts(event) {
  if (!metricsLoaded) return;
  for (const [name, update] of Object.entries(event.metrics)) {
    if (update.kind !== "scalar" && update.kind !== "list") { showOther({ name, kind: update.kind }); continue; }
    const div = charts.get(name);
    if (!div) { addChart(name, update.source); continue; }
    if (!div.data) continue;  // still loading; its first query includes these points
    window.Plotly.extendTraces(div, { x: [update.steps], y: [update.values.map(Number)] }, [0]);
  }
}

// --- status and cancel ---------------------------------------------------------------------
const statusBadge = document.getElementById("run-status");
const cancel = document.getElementById("cancel");
let statusSeq = Number(statusBadge.dataset.seq || 0);  // transitions shown so far
let statusSince = Date.now() - (page.statusAge || 0) * 1000;  // when the shown status began

// Events may arrive out of order (the socket's first message races the run's own events):
// one numbered below what is shown is old news.
function applyStatus({ status, detail, seq }) {
  if (seq !== undefined && seq < statusSeq) return;
  if (seq !== undefined && seq > statusSeq) statusSince = Date.now();
  statusSeq = seq ?? statusSeq;
  showStatus(status, detail);
}

function showStatus(status, detail) {
  setStatus(statusBadge, status);
  document.getElementById("run-detail").textContent = detail || "";
  showElapsed(status);
  if (FINAL.has(status) && cancel) cancel.hidden = true;
  refreshDetails();
}

// --- the overview: what a status change may have changed (times, exit code, node, error) --
// Bursts of events make one request at a time, and one more after it if any came meanwhile.
let detailsAsked = null;
let detailsAgain = false;
function refreshDetails() {
  if (detailsAsked) { detailsAgain = true; return; }
  detailsAsked = api("GET", page.api).then(showDetails).catch(() => {}).finally(() => {
    detailsAsked = null;
    if (detailsAgain) { detailsAgain = false; refreshDetails(); }
  });
}

const when = (iso) => (iso ? iso.slice(0, 19).replace("T", " ") : "–");
const GIT_KEY = /^(azureml\.git\.|mlflow\.source\.git\.)/;

function showDetails(details) {
  document.getElementById("ov-started").textContent = when(details.startTimeUtc);
  document.getElementById("ended").textContent = when(details.endTimeUtc);
  document.getElementById("ov-exit").textContent = details.exitCode ?? "–";
  document.getElementById("ov-node").textContent = details.node || "–";
  document.getElementById("ov-image").textContent = details.image || "";
  document.getElementById("ov-image-row").hidden = !details.image;
  showPairs("ov-tags", details.tags, "Tag ");
  showPairs("ov-properties", Object.fromEntries(Object.entries(details.properties).filter(([key]) => !GIT_KEY.test(key))), "");
  if (FINAL.has(details.status) && details.error) showError(details);
}

function showPairs(id, pairs, prefix) {
  document.getElementById(id).replaceChildren(...Object.entries(pairs).map(([key, value]) => {
    const row = document.createElement("tr");
    const heading = Object.assign(document.createElement("th"), { scope: "row", textContent: prefix + key });
    row.append(heading, Object.assign(document.createElement("td"), { textContent: String(value) }));
    return row;
  }));
}

// A canceled run is not an error: it says who canceled it and when, without the red.
function showError(details) {
  const canceled = details.status === "Canceled";
  const message = document.getElementById("error-message");
  document.getElementById("error-box").className = `card ${canceled ? "canceled-box" : "error-box"}`;
  document.getElementById("error-heading").textContent = canceled ? "Canceled" : "Error";
  document.getElementById("error-when").textContent = canceled ? `Canceled at ${when(details.endTimeUtc)} UTC.` : "";
  if (canceled) message.removeAttribute("class");
  else message.className = "error";
  message.textContent = details.error.error.message;
  showHint(details.error.error.hint);
  document.getElementById("error-box").hidden = false;
}

// The one-line fix of a failed run, as text; its link only when it is a path of the studio.
function showHint(hint) {
  document.getElementById("error-hint").hidden = !hint;
  if (!hint) return;
  document.getElementById("error-hint-message").textContent = hint.message;
  const link = document.getElementById("error-hint-link");
  link.hidden = !(hint.url && hint.url.startsWith("/") && !hint.url.startsWith("//"));
  if (!link.hidden) { link.href = hint.url; link.textContent = hint.label || hint.url; }
}

// How long the run has been Preparing, counted live: a first build of its environment can
// take minutes, and the detail says that is what it is doing.
const elapsedView = document.getElementById("run-elapsed");
let elapsedTimer = null;
function showElapsed(status) {
  clearInterval(elapsedTimer);
  elapsedView.textContent = "";
  if (status !== "Preparing") return;
  const tick = () => { elapsedView.textContent = `(${duration((Date.now() - statusSince) / 1000)} so far)`; };
  tick();
  elapsedTimer = setInterval(tick, 1000);
}

function duration(seconds) {
  const whole = Math.max(0, Math.floor(seconds));
  const minutes = Math.floor(whole / 60);
  return minutes ? `${minutes} min ${String(whole % 60).padStart(2, "0")} s` : `${whole} s`;
}
if (cancel) {
  cancel.addEventListener("click", async () => {
    if (!window.confirm("Cancel this run? Its processes are stopped and its files collected.")) return;
    cancel.disabled = true;
    const details = await api("POST", `${page.api}/cancel`).catch((problem) => alert(problem.message));
    if (details) applyStatus({ status: details.status, detail: details.statusDetail, seq: details.statusHistory?.length });
  });
}

// --- files: a tree (file_tree.js); a log opens in the viewer above -----------------------
function openLog(name, size) {
  if (![...logChoice.options].some((option) => option.value === name)) logChoice.add(new Option(name, name));
  ends[name] = Math.max(ends[name] || 0, size);
  logChoice.value = name;
  showLog();
  logView.focus();
}
const addFile = fileTree({ root: document.getElementById("files"), api: page.api, openLog });


// --- the snapshot viewer ----------------------------------------------------------------
// A file opens from the tree, or from an address #snapshot:<path>[:<line>] (a failed run's
// hint links to the line that raised), which marks that line and scrolls to it.
const snapshotView = document.getElementById("snapshot-view");
document.getElementById("snapshot-files")?.addEventListener("click", (click) => {
  const link = click.target.closest("a[data-view-file]");
  if (!link) return;
  click.preventDefault();
  history.replaceState(null, "", `#snapshot:${encodeURIComponent(link.textContent)}`);
  viewSnapshotFile(link);
});

async function viewSnapshotFile(link, line) {
  document.getElementById("snapshot-empty").hidden = true;
  snapshotView.hidden = false;
  const response = await fetch(link.href);
  const data = await response.arrayBuffer();
  const text = new TextDecoder("utf-8", { fatal: false }).decode(data.slice(0, 1024 * 1024));
  if (text.includes("\u0000")) { snapshotView.textContent = "(binary file: use the link to download it)"; return; }
  const lines = text.split("\n");
  if (!(line >= 1 && line <= lines.length)) { snapshotView.textContent = text; return; }
  const mark = document.createElement("mark");
  mark.id = "snapshot-line";
  mark.textContent = lines[line - 1];
  snapshotView.replaceChildren(lines.slice(0, line - 1).map((l) => l + "\n").join(""), mark, "\n" + lines.slice(line).join("\n"));
  mark.scrollIntoView({ block: "center" });
}

function openSnapshotAddress(address) {
  const [, path, line] = address.match(/^(.*?)(?::(\d+))?$/);
  const wanted = decodeURIComponent(path);
  const link = [...document.querySelectorAll("#snapshot-files a[data-view-file]")].find((a) => a.textContent === wanted);
  if (link) viewSnapshotFile(link, Number(line));
}

// MLflow params: logged once each, so a new one is a new row.
function addParams(params) {
  const table = document.getElementById("params");
  for (const [key, value] of Object.entries(params)) {
    const row = table.insertRow();
    const head = document.createElement("th");
    head.scope = "row";
    head.textContent = key;
    row.append(head);
    row.insertCell().textContent = value;
  }
  table.hidden = document.getElementById("params-heading").hidden = false;
}

// --- name and description, edited in place (PATCH, as run.display_name = ... does) ------
const describe = document.getElementById("describe");
describe?.addEventListener("submit", async (submit) => {
  submit.preventDefault();
  const note = document.getElementById("describe-note");
  const body = { display_name: describe.display_name.value.trim(), description: describe.description.value };
  note.textContent = "Saving…";
  try {
    await api("PATCH", page.api, body);
    note.textContent = "Saved.";
  } catch (problem) {
    note.textContent = problem.message;
  }
});

// --- start ---------------------------------------------------------------------------------
function tabFromHash() {
  const [name, ...rest] = location.hash.slice(1).split(":");
  const wanted = tabs.find((tab) => tab.id === `tab-${name}`);
  if (!wanted) return;
  const address = location.hash;
  selectTab(wanted);
  if (name === "snapshot" && rest.length) {
    history.replaceState(null, "", address);
    openSnapshotAddress(rest.join(":"));
  }
}
window.addEventListener("hashchange", tabFromHash);
tabFromHash();
showElapsed(statusBadge.textContent);
// The page came with the tail of the script's log, the first choice; a browser that restored
// another choice reads that one.
if (logChoice.selectedIndex === 0) {
  [shownStart, shownEnd] = [page.tail.start, page.tail.end];
  logView.scrollTop = logView.scrollHeight;
} else showLog();
liveSocket(page.ws, {
  offsets: () => ({ ...ends }),
  onEvent(event) {
    if (event.kind === "log") appendLog(event);
    else if (event.kind === "status") applyStatus(event);
    else if (event.kind === "metric") extendCharts(event);
    else if (event.kind === "file") addFile(event);
    else if (event.kind === "run") { showPairs("ov-tags", event.tags, "Tag "); refreshDetails(); }
    else if (event.kind === "params") addParams(event.params);
  },
});
