import { themed } from "./chart_theme.js";
import { api, FINAL, liveSocket, loadScript } from "./common.js";

// plotly.js loads on first need (the run page does not load it up front).
const plotlyUrl = JSON.parse(document.getElementById("page-data").textContent).plotly;

// The sweep part of a sweep's run page: trials table, best-so-far chart, overlaid curves and
// parallel coordinates. Child events arrive over the run's websocket; each schedules one
// re-read of the sweep's state (at most one a second), so a busy sweep never floods the page.
const root = document.getElementById("sweep");
const summary = document.getElementById("sweep-summary");
const cancelButton = document.getElementById("sweep-cancel");
const table = document.getElementById("sweep-trials");
const REFRESH_MS = 1000;
const PAGE = 100;  // rows laid out at first; "Show all" lays out the rest
let showAll = false;
const CURVES_MS = 3000;

let state = null;
let sortBy = { key: "number", descending: false };
let due = null;
let curvesAt = 0;

const fmt = (v) => (v === null || v === undefined ? "–" : typeof v === "number" ? Number(v.toPrecision(6)).toString() : String(v));
const duration = (s) => (s === null ? "–" : s < 60 ? `${s.toFixed(1)}s` : `${Math.floor(s / 60)}m ${Math.round(s % 60)}s`);

function paramNames() {
  return Object.keys(state.sampling.space);
}

function columns() {
  return [
    ["number", "#", (t) => t.number],
    ["status", "Status", (t) => t.status],
    ...paramNames().map((name) => [`p:${name}`, name, (t) => t.hyperparameters[name]]),
    ["metric", `best ${state.primary_metric_name}`, (t) => t.best_primary_metric],
    ["duration", "Duration", (t) => t.duration_seconds],
    ["detail", "Stop reason", (t) => t.detail],
  ];
}

function sortedTrials() {
  const column = columns().find(([key]) => key === sortBy.key) || columns()[0];
  const sign = sortBy.descending ? -1 : 1;
  const value = column[2];
  return [...state.trials].sort((a, b) => {
    const x = value(a), y = value(b);
    if (x === y) return a.number - b.number;
    if (x === null || x === undefined) return 1;
    if (y === null || y === undefined) return -1;
    return (x < y ? -1 : 1) * sign;
  });
}

function renderTable() {
  const head = table.tHead.rows[0];
  head.replaceChildren(...columns().map(([key, label]) => {
    const th = document.createElement("th");
    th.scope = "col";
    if (key === sortBy.key) th.setAttribute("aria-sort", sortBy.descending ? "descending" : "ascending");
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.sort = key;
    button.textContent = label;
    th.append(button);
    return th;
  }));
  const body = document.createDocumentFragment();
  const ordered = sortedTrials();
  for (const trial of showAll ? ordered : ordered.slice(0, PAGE)) {
    const tr = document.createElement("tr");
    tr.dataset.run = trial.run_id;
    if (trial.run_id === state.best_run_id) tr.classList.add("best");
    for (const [key, , value] of columns()) {
      const td = document.createElement("td");
      if (key === "number") {
        const link = document.createElement("a");
        link.href = root.dataset.runPage + encodeURIComponent(trial.run_id) + "/";
        link.textContent = (trial.run_id === state.best_run_id ? "★ " : "") + trial.number;
        td.append(link);
      } else if (key === "status") {
        td.innerHTML = `<span class="status status-${trial.status}"></span>`;
        td.firstChild.textContent = trial.status;
      } else {
        td.textContent = key === "duration" ? duration(value(trial)) : fmt(value(trial));
      }
      tr.append(td);
    }
    body.append(tr);
  }
  table.tBodies[0].replaceChildren(body);
  allButton.hidden = showAll || ordered.length <= PAGE;
  allButton.textContent = `Show all ${ordered.length} trials`;
}

const allButton = document.getElementById("sweep-show-all");
allButton.addEventListener("click", () => { showAll = true; renderTable(); });

table.tHead.addEventListener("click", (click) => {
  const button = click.target.closest("button[data-sort]");
  if (!button) return;
  const key = button.dataset.sort;
  sortBy = { key, descending: sortBy.key === key ? !sortBy.descending : key === "metric" && state.primary_metric_goal === "MAXIMIZE" };
  renderTable();
});

function renderSummary() {
  const counts = {};
  for (const t of state.trials) counts[t.status] = (counts[t.status] || 0) + 1;
  const tally = Object.entries(counts).map(([s, n]) => `${n} ${s}`).join(", ");
  const best = state.trials.find((t) => t.run_id === state.best_run_id);
  const bestText = best ? ` · best: trial ${best.number}, ${state.primary_metric_name} ${fmt(best.best_primary_metric)}` : "";
  summary.textContent = `${state.status} · ${state.trials.length} of ${state.max_total_runs} trials (${tally || "none yet"})${bestText}` + (state.detail ? ` · ${state.detail}` : "");
  if (cancelButton) cancelButton.hidden = FINAL.has(state.status) || state.status === "CancelRequested";
}

const layout = (title, extra = {}) => themed({ title: { text: title, font: { size: 14 } }, margin: { t: 40, r: 20, b: 40, l: 50 }, ...extra });

function renderProgress() {
  const done = state.trials.filter((t) => t.best_primary_metric !== null).sort((a, b) => a.number - b.number);
  const better = state.primary_metric_goal === "MAXIMIZE" ? Math.max : Math.min;
  let best = null;
  const bestSoFar = done.map((t) => (best = best === null ? t.best_primary_metric : better(best, t.best_primary_metric)));
  Plotly.react("sweep-progress", [
    { x: done.map((t) => t.number), y: done.map((t) => t.best_primary_metric), mode: "markers", name: state.primary_metric_name, text: done.map((t) => t.run_id) },
    { x: done.map((t) => t.number), y: bestSoFar, mode: "lines", line: { shape: "hv" }, name: "best so far" },
  ], layout(`${state.primary_metric_name} per trial`, { xaxis: { title: { text: "trial" } } }), { responsive: true });
}

function dimension(name, values) {
  if (values.every((v) => typeof v === "number")) return { label: name, values };
  const labels = [...new Set(values.map(String))];
  return { label: name, values: values.map((v) => labels.indexOf(String(v))), tickvals: labels.map((_, i) => i), ticktext: labels };
}

// Parallel coordinates draw with WebGL, slow without a GPU: past PARCOORDS_MAX trials the
// chart keeps the best ones, which are what it is read for.
const PARCOORDS_MAX = 300;

function renderParcoords() {
  const sign = state.primary_metric_goal === "MAXIMIZE" ? -1 : 1;
  const rows = state.trials.filter((t) => t.best_primary_metric !== null)
    .sort((a, b) => sign * (a.best_primary_metric - b.best_primary_metric)).slice(0, PARCOORDS_MAX);
  if (!rows.length) return;
  const note = document.getElementById("sweep-parcoords-note");
  note.hidden = rows.length === state.trials.length;
  note.textContent = `Parallel coordinates show the best ${rows.length} of ${state.trials.length} trials.`;
  const metric = rows.map((t) => t.best_primary_metric);
  const dimensions = paramNames().map((name) => dimension(name, rows.map((t) => t.hyperparameters[name])));
  dimensions.push({ label: state.primary_metric_name, values: metric });
  Plotly.react("sweep-parcoords", [{
    type: "parcoords", dimensions,
    line: { color: metric, colorscale: "Viridis", reversescale: state.primary_metric_goal === "MINIMIZE", showscale: true },
  }], layout("hyperparameters against the primary metric", { margin: { t: 90, r: 40, b: 30, l: 60 } }), { responsive: true });
}

async function renderCurves() {
  curvesAt = Date.now();
  const curves = await api("GET", `${root.dataset.api}/curves?max_points=100`);
  // One trace for every curve, separated by gaps: a thousand trials draw as fast as one.
  const x = [], y = [];
  for (const points of Object.values(curves)) {
    for (const [step, value] of points) { x.push(step); y.push(value); }
    x.push(null); y.push(null);
  }
  const traces = [{ x, y, mode: "lines", name: "trials", line: { width: 1, color: "rgba(70,110,180,0.45)" }, hoverinfo: "skip" }];
  const best = curves[state.best_run_id];
  if (best) traces.push({ x: best.map((p) => p[0]), y: best.map((p) => p[1]), mode: "lines", name: "best trial", line: { width: 3, color: "#d62728" } });
  Plotly.react("sweep-curves", traces, layout(`${state.primary_metric_name} curves`, { xaxis: { title: { text: "interval" } } }), { responsive: true });
}

const nextFrame = () => new Promise((done) => requestAnimationFrame(() => setTimeout(done, 0)));

// The table first, then one chart a frame, so the page is readable before the charts are in.
async function refresh() {
  due = null;
  state = await api("GET", root.dataset.api);
  renderSummary();
  renderTable();
  root.dataset.table = String(state.trials.length);
  root.dataset.tableMs = String(performance.now());  // for the bench: when the page is readable
  await loadScript(plotlyUrl);
  await nextFrame();
  renderProgress();
  await nextFrame();
  if (Date.now() - curvesAt >= CURVES_MS || FINAL.has(state.status)) await renderCurves();
  await nextFrame();
  renderParcoords();
  root.dataset.loaded = String(state.trials.length);
  root.dataset.loadedMs = String(performance.now());
}

function later() {
  if (due === null) due = setTimeout(refresh, REFRESH_MS);
}

if (cancelButton) {
  cancelButton.addEventListener("click", async () => {
    cancelButton.disabled = true;
    try {
      await api("POST", root.dataset.cancel);
      later();
    } catch (error) {
      summary.textContent = error.message;
    } finally {
      cancelButton.disabled = false;
    }
  });
}

await refresh();
if (!FINAL.has(state.status)) {
  liveSocket(root.dataset.ws, { onEvent: (event) => { if (event.kind === "sweep" || event.kind === "status") later(); } });
}
