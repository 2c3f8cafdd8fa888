import { api, FINAL, liveSocket, loadScript, setStatus } from "./common.js";
import { chartsPanel } from "./charts_panel.js";
import { columnChoices, columnLabel, columnText, columnValue, sortValue } from "./columns.js";
import { showComparison } from "./compare.js";
import { confirmDelete } from "./delete_experiment.js";

// The runs arrive as data and are shown PAGE at a time: every sort or filter lays out only
// the rows on show, so it stays quick with thousands of runs (1,000 rows take a browser
// about 150 ms to lay out again; 100 take a tenth of that).
const PAGE = 100;

const table = document.getElementById("runs");
const body = table.tBodies[0];
const data = JSON.parse(document.getElementById("runs-data").textContent);
const summaries = data.metrics;
const metricSelect = document.getElementById("metric-column");
const statSelect = document.getElementById("metric-stat");
const statusFilter = document.getElementById("status-filter");
const tagFilter = document.getElementById("tag-filter");
const search = document.getElementById("search");
const compareButton = document.getElementById("compare");
const tensorboardForm = document.getElementById("tensorboard-form");
const shownNote = document.getElementById("runs-shown");
const moreButton = document.getElementById("show-more");
const allButton = document.getElementById("show-all");

const seconds = (iso) => (iso ? Date.parse(iso) / 1000 : null);
// One run as the table keeps it; `text` is what the search box looks in.
function tableRun(run) {
  const tagList = Object.entries(run.tags || {}).map(([key, value]) => `${key}=${value}`);
  const name = run.name || run.id;
  return {
    ...run, name, tagList,
    created: seconds(run.created), started: seconds(run.started), ended: seconds(run.ended),
    text: [name, run.id, ...tagList, ...(run.arguments || [])].join(" ").toLowerCase(),
  };
}
const runs = data.runs.map(tableRun);
// Plotly weighs 4.8 MB: it loads only when the charts panel or Compare draws.
const loadPlotly = () => loadScript(table.dataset.plotly).then(() => window.Plotly);
const picker = document.getElementById("chart-picker");
const panel = picker && chartsPanel({
  box: document.getElementById("charts-panel"), picker, seriesUrl: table.dataset.seriesMany, plotly: loadPlotly,
});
picker?.addEventListener("change", () => show());
const byId = new Map(runs.map((run) => [run.id, run]));
const rows = new Map();  // run id -> its <tr>, made when the run is first shown
const selected = new Set();  // run ids, kept while sorting, filtering and paging
let ordered = runs;  // every run, in the order of the table
let limit = PAGE;  // how many of the runs that pass the filters are shown

function duration(run) {
  if (!run.started) return null;
  return (run.ended || Date.now() / 1000) - run.started;
}

function formatDuration(seconds) {
  if (seconds === null) return "–";
  const s = Math.round(seconds);
  return s < 60 ? `${s}s` : s < 3600 ? `${Math.floor(s / 60)}m ${s % 60}s` : `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

function formatDate(seconds) {
  const date = new Date(seconds * 1000);
  const two = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())} ${two(date.getHours())}:${two(date.getMinutes())}`;
}

function metricValue(run) {
  const metric = (summaries[run.id] || {})[metricSelect.value];
  return metric ? metric[statSelect.value] : null;
}

function element(tag, properties, ...children) {
  const made = Object.assign(document.createElement(tag), properties);
  made.append(...children);
  return made;
}

function rowOf(run) {
  if (rows.has(run.id)) return rows.get(run.id);
  const row = element("tr");
  row.dataset.run = run.id;
  const box = element("input", { type: "checkbox", value: run.id, checked: selected.has(run.id) });
  box.setAttribute("aria-label", `Select run ${run.number}`);
  const link = element("a", { href: table.dataset.runUrl.replace(/_\/$/, `${encodeURIComponent(run.id)}/`) }, run.name);
  const status = element("span", { className: `status status-${run.status}` }, run.status);
  status.dataset.status = "";
  const tags = run.tagList.flatMap((tag) => [element("span", { className: "tag" }, tag), " "]);
  const where = run.node ? `${run.target || "local"} · ${run.node}` : run.target || "local";
  const cells = [[box], [String(run.number)], [link], [status], [], [where], [run.user || ""], [formatDate(run.created)], tags, []];
  for (const content of cells) row.insertCell().append(...content);
  for (const key of extraColumns) row.insertCell().dataset.column = key;
  row.cells[4].dataset.durationCell = "";
  row.cells[9].dataset.metricCell = "";
  rows.set(run.id, row);
  return row;
}

// Text is written only where it changed, so the 5-second refresh lays out nothing otherwise.
function write(cell, text) {
  if (cell.textContent !== text) cell.textContent = text;
}

function fill(row) {
  const run = byId.get(row.dataset.run);
  write(row.cells[4], formatDuration(duration(run)));
  const value = metricValue(run);
  write(row.cells[9], value === null || value === undefined ? "–" : Number(value).toPrecision(5));
  extraColumns.forEach((key, i) => write(row.cells[10 + i], columnText(columnValue(key, run, summaries))));
}

// --- added columns: chosen from a list, each with its own sort button and a remove button --
let extraColumns = [];
const addColumn = document.getElementById("add-column");
function showColumns(keys) {
  extraColumns = keys.filter((key, i) => keys.indexOf(key) === i);
  const head = table.tHead.rows[0];
  for (const th of head.querySelectorAll("th[data-column]")) th.remove();
  for (const key of extraColumns) {
    const th = element("th", { scope: "col" },
      element("button", { type: "button" }, columnLabel(key)), " ",
      element("button", { type: "button", className: "remove-column", title: `Remove the column ${columnLabel(key)}` }, "×"));
    th.dataset.column = key;
    th.firstChild.dataset.sort = `col:${key}`;
    th.lastChild.setAttribute("aria-label", `Remove the column ${columnLabel(key)}`);
    head.append(th);
  }
  rows.clear();  // rows are made again with their new cells
}
addColumn.append(...columnChoices(runs, metricSelect.value ? [...metricSelect.options].map((o) => o.value) : [])
  .map(([key, label]) => new Option(label, key)));
addColumn.addEventListener("change", () => {
  if (addColumn.value) showColumns([...extraColumns, addColumn.value]);
  addColumn.value = "";
  show();
});
table.tHead.addEventListener("click", (click) => {
  const th = click.target.closest(".remove-column")?.closest("th");
  if (!th) return;
  showColumns(extraColumns.filter((key) => key !== th.dataset.column));
  show();
});

function passes(run, status, tag, text) {
  if (status && run.status !== status) return false;
  if (text && !run.text.includes(text)) return false;
  return !tag || run.tagList.some((t) => (tag.includes("=") ? t === tag : t.split("=")[0] === tag));
}

function show() {
  const status = statusFilter.value;
  const tag = tagFilter.value.trim();
  const text = search.value.trim().toLowerCase();
  const filtered = status || tag || text;
  const matching = filtered ? ordered.filter((run) => passes(run, status, tag, text)) : ordered;
  panel?.draw(matching);
  const shown = matching.slice(0, limit).map(rowOf);
  body.replaceChildren(...shown);
  for (const row of shown) fill(row);
  if (!shown.length) {
    const empty = body.insertRow().insertCell();
    empty.colSpan = 10 + extraColumns.length;
    empty.textContent = runs.length ? "No runs match the filters." : "No runs yet.";
  }
  remember();
  const of = filtered ? `the ${matching.length} runs that match (${runs.length} in all)` : `${runs.length} runs`;
  shownNote.textContent = runs.length ? `Showing ${shown.length} of ${of}.` : "";
  const rest = matching.length - shown.length;
  moreButton.hidden = allButton.hidden = rest <= 0;
  moreButton.textContent = `Show ${Math.min(PAGE, rest)} more`;
  allButton.textContent = `Show all ${matching.length}`;
}

function showHeader() {
  document.getElementById("metric-header").textContent =
    metricSelect.value ? `${metricSelect.value} (${statSelect.selectedOptions[0].text})` : "Metric";
}

const sortKeys = {
  number: (run) => run.number,
  name: (run) => run.name.toLowerCase(),
  status: (run) => run.status,
  duration: (run) => duration(run) ?? -1,
  user: (run) => run.user || "",
  created: (run) => run.created,
  metric: (run) => metricValue(run) ?? -Infinity,
};
let sorted = { key: "number", descending: true };
function sortBy(key, descending) {
  const button = table.tHead.querySelector(`button[data-sort="${key}"]`);
  if (!button) return;
  sorted = { key, descending };
  const read = sortKeys[key] ?? ((run) => sortValue(columnValue(key.slice(4), run, summaries)));
  const keyed = runs.map((run) => [read(run), run]);
  const sign = descending ? -1 : 1;
  keyed.sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0) * sign);
  ordered = keyed.map(([, run]) => run);
  for (const th of table.tHead.querySelectorAll("th")) th.removeAttribute("aria-sort");
  button.closest("th").setAttribute("aria-sort", descending ? "descending" : "ascending");
}
table.tHead.addEventListener("click", (click) => {
  const key = click.target.closest("button[data-sort]")?.dataset.sort;
  if (!key) return;
  sortBy(key, sorted.key === key ? !sorted.descending : false);
  show();
});

// The view lives in the address: filters, search, sort and the metric column survive a
// reload and can be shared as a link.
const VIEW = { status: statusFilter, tag: tagFilter, q: search, metric: metricSelect, stat: statSelect };
function remember() {
  const query = new URLSearchParams();
  for (const [key, control] of Object.entries(VIEW)) if (control.value && control.selectedIndex !== 0) query.set(key, control.value);
  const charts = panel?.chosen().join(",") ?? "";
  if (panel && charts !== metricSelect.options[0]?.value) query.set("charts", charts);
  if (extraColumns.length) query.set("cols", extraColumns.join(","));
  if (sorted.key !== "number" || !sorted.descending) query.set("sort", `${sorted.descending ? "-" : ""}${sorted.key}`);
  history.replaceState(null, "", query.size ? `?${query}` : location.pathname);
}
function restore() {
  const query = new URLSearchParams(location.search);
  for (const [key, control] of Object.entries(VIEW)) if (query.has(key)) control.value = query.get(key);
  panel?.choose(query.has("charts") ? query.get("charts").split(",").filter(Boolean) : [metricSelect.options[0]?.value]);
  if (query.get("cols")) showColumns(query.get("cols").split(",").filter(Boolean));
  const sort = query.get("sort");
  if (sort) sortBy(sort.replace(/^-/, ""), sort.startsWith("-"));
}

moreButton.addEventListener("click", () => { limit += PAGE; show(); });
allButton.addEventListener("click", () => { limit = Infinity; show(); });
for (const control of [statusFilter, tagFilter, search]) control.addEventListener("input", show);

function selectionChanged() {
  compareButton.disabled = selected.size < 2;
  tensorboardForm.querySelector("button").disabled = selected.size < 1;
}
body.addEventListener("change", (change) => {
  const box = change.target;
  if (box.checked) selected.add(box.value);
  else selected.delete(box.value);
  selectionChanged();
});

// One TensorBoard over the selected runs, in a new tab.
tensorboardForm.addEventListener("submit", () => {
  for (const old of tensorboardForm.querySelectorAll("input[name=run]")) old.remove();
  for (const id of selected) tensorboardForm.append(element("input", { type: "hidden", name: "run", value: id }));
});


const comparison = document.getElementById("comparison");
const DESCRIBE = [
  ["status", (run) => run.status], ["duration", (run) => formatDuration(duration(run))],
  ["where", (run) => (run.node ? `${run.target || "local"} · ${run.node}` : run.target || "local")],
  ["submitted by", (run) => run.user || ""],
];
compareButton.addEventListener("click", () => {
  comparison.hidden = false;
  const boxes = {
    table: document.getElementById("compare-table-box"), charts: document.getElementById("compare-charts"),
    parallel: document.getElementById("compare-parallel"), scatter: document.getElementById("compare-scatter"),
    scatterBox: document.getElementById("compare-scatter-box"),
    scatterX: document.getElementById("scatter-x"), scatterY: document.getElementById("scatter-y"),
  };
  const runs = [...selected].map((id) => byId.get(id));
  showComparison({ runs, summaries, seriesUrl: table.dataset.seriesMany, plotly: loadPlotly, boxes, describe: DESCRIBE })
    .catch((problem) => alert(problem.message));
});

function refresh() {
  showHeader();
  for (const row of body.rows) if (row.dataset.run) fill(row);
}
metricSelect.addEventListener("change", () => { refresh(); selectionChanged(); remember(); });
statSelect.addEventListener("change", () => { refresh(); remember(); });

// A run this page has not seen may be a new one of this experiment: it joins the table.
const asked = new Set();
async function addNew(runId) {
  if (asked.has(runId)) return;
  asked.add(runId);
  const details = await api("GET", `${table.dataset.series}${encodeURIComponent(runId)}`).catch(() => null);
  if (!details || details.experimentId !== Number(table.dataset.experiment) || details.parentRunId || byId.has(runId)) return;
  const run = tableRun({
    id: details.runId, number: details.number, status: details.status, tags: details.tags,
    name: details.displayName === details.runId ? "" : details.displayName, user: details.submittedBy,
    target: details.target, node: details.node, arguments: details.runDefinition?.arguments,
    created: details.createdUtc, started: details.startTimeUtc, ended: details.endTimeUtc,
  });
  runs.unshift(run);
  byId.set(run.id, run);
  sortBy(sorted.key, sorted.descending);
  show();
}

liveSocket(table.dataset.live, {
  onEvent(event) {
    if (event.kind !== "status") return;
    const run = byId.get(event.run_id);
    if (!run) { addNew(event.run_id); return; }
    // Close enough for the duration column until the next load brings the recorded times.
    run.status = event.status;
    if (event.status === "Running" && !run.started) run.started = Date.now() / 1000;
    if (FINAL.has(event.status) && run.started && !run.ended) run.ended = Date.now() / 1000;
    const row = rows.get(run.id);
    if (row) setStatus(row.querySelector("[data-status]"), event.status);
  },
});
table.tHead.querySelector("[data-sort=number]").closest("th").setAttribute("aria-sort", "descending");
restore();
show();
showHeader();
setInterval(refresh, 5000);

const deleteButton = document.getElementById("delete-experiment-button");
deleteButton?.addEventListener("click", async () => {
  const { api: url, name, list } = deleteButton.dataset;
  if (await confirmDelete({ url, name })) location.assign(list);
});
