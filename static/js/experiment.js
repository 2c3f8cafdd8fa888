import { api, elements, FINAL, liveSocket, loadScript, setStatus } from "./common.js";
import { chartsPanel } from "./charts_panel.js";
import { columnChoices, columnLabel, columnText, columnValue, environmentLabel, gitCommit, IMAGE_PROPERTY, sortValue } from "./columns.js";
import { showComparison } from "./compare.js";
import { confirmDelete } from "./delete_experiment.js";
import { childRuns } from "./run_children.js";
import { editInPlace, pencil } from "./inline_edit.js";

// The runs arrive as data and are shown PAGE at a time: every sort or filter lays out only
// the rows on show, so it stays quick with thousands of runs (1,000 rows take a browser
// about 150 ms to lay out again; 100 take a tenth of that).
const PAGE = 100;

const table = document.getElementById("runs");
const body = table.tBodies[0];
const data = JSON.parse(document.getElementById("runs-data").textContent);
const summaries = data.metrics;
const { metricSelect, statSelect, statusFilter, tagFilter, search } = elements({
  metricSelect: "metric-column", statSelect: "metric-stat", statusFilter: "status-filter", tagFilter: "tag-filter", search: "search",
});
const { compareButton, tensorboardForm, shownNote, moreButton, allButton } = elements({
  compareButton: "compare", tensorboardForm: "tensorboard-form", shownNote: "runs-shown", moreButton: "show-more", allButton: "show-all",
});

const seconds = (iso) => (iso ? Date.parse(iso) / 1000 : null);
const canEdit = table.dataset.canEdit === "true";
// One run as the table keeps it (a row of the page's data or of .../table); `name` is what
// it shows, `displayName` what its owner named it; `text` is what the search box looks in.
function tableRun(run) {
  const tagList = Object.entries(run.tags || {}).map(([key, value]) => `${key}=${value}`);
  const name = run.name || run.id;
  return {
    ...run, name, displayName: run.name || "", tagList,
    created: seconds(run.created), started: seconds(run.started), ended: seconds(run.ended),
    text: [name, run.id, run.description || "", ...tagList, ...(run.arguments || []), ...Object.entries(run.mlflow_params || {}).flat()].join(" ").toLowerCase(),
  };
}
const where = (run) => (run.node ? `${run.target || "local"} · ${run.node}` : run.target || "local");
const runs = data.runs.map(tableRun);
// Plotly weighs 4.8 MB: it loads only when the charts panel or Compare draws.
const loadPlotly = () => loadScript(table.dataset.plotly).then(() => window.Plotly);
const picker = document.getElementById("chart-picker");
const panel = picker && chartsPanel({
  box: document.getElementById("charts-panel"), picker, seriesUrl: table.dataset.seriesMany, plotly: loadPlotly,
});
picker?.addEventListener("change", () => show());
const byId = new Map(runs.map((run) => [run.id, run]));
const runUrl = (id) => table.dataset.runUrl.replace(/_\/$/, `${encodeURIComponent(id)}/`);
const children = childRuns({
  url: (id) => `${runUrl(id)}children-table/`,
  adopt(data, parentId) {
    Object.assign(summaries, data.metrics);
    const known = new Set([...metricSelect.options].map((option) => option.value));
    const added = data.metric_names.filter((name) => !known.has(name));
    if (added.length) metricSelect.querySelector("option[value='']")?.remove();  // "no metrics"
    for (const name of added) metricSelect.add(new Option(name, name));
    return data.runs.map((child) => {
      const run = byId.get(child.id);
      const fresh = { ...tableRun(child), parent: parentId };
      if (run) return Object.assign(run, fresh);  // kept: its row and selection stay
      byId.set(fresh.id, fresh);
      return fresh;
    });
  },
});
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
  const link = element("a", { href: runUrl(run.id) }, run.name);
  link.dataset.name = "";
  const status = element("span", { className: `status status-${run.status}` }, run.status);
  status.dataset.status = "";
  const name = canEdit ? [link, " ", pencil("name", run)] : [link];
  if (run.child_runs) name.unshift(toggleOf(run));
  const cells = [[box], [String(run.number)], name, [status], [], [], [run.user || ""], [formatDate(run.created)], [], []];
  for (const content of cells) row.insertCell().append(...content);
  for (const key of extraColumns) row.insertCell().dataset.column = key;
  row.cells[4].dataset.durationCell = "";
  row.cells[5].dataset.whereCell = "";
  row.cells[8].dataset.tagsCell = "";
  row.cells[9].dataset.metricCell = "";
  rows.set(run.id, row);
  return row;
}

function toggleOf(run) {
  const toggle = element("button", { type: "button", className: "expand", textContent: `▸ ${run.child_runs}` });
  toggle.dataset.expand = run.id;
  toggle.setAttribute("aria-expanded", "false");
  toggle.setAttribute("aria-label", `Show the ${run.child_runs} child runs of ${run.name}`);
  return toggle;
}

body.addEventListener("click", async (click) => {
  const toggle = click.target.closest("button[data-expand]");
  if (!toggle) return;
  toggle.disabled = true;
  try {
    await children.toggle(toggle.dataset.expand);
  } catch (problem) {
    alert(problem.message);
  } finally {
    toggle.disabled = false;
  }
  show();
});

// Text is written only where it changed, so the 5-second refresh lays out nothing otherwise.
function write(cell, text) {
  if (cell.textContent !== text) cell.textContent = text;
}

// Cells made of parts (where it ran with its image, the tags, an editable description) are
// made again only when what they show changed.
function compose(cell, key, parts) {
  if (cell.dataset.shows === key) return;
  cell.dataset.shows = key;
  cell.replaceChildren(...parts());
}

function fill(row) {
  const run = byId.get(row.dataset.run);
  write(row.cells[2].querySelector("[data-name]"), run.name);
  const badge = row.cells[3].firstChild;
  if (badge.textContent !== run.status) setStatus(badge, run.status);
  write(row.cells[4], formatDuration(duration(run)));
  const image = run.properties?.[IMAGE_PROPERTY];
  compose(row.cells[5], `${where(run)}\n${image || ""}`, () => [where(run), ...(image ? [element("br"), element("small", { className: "hint" }, image)] : [])]);
  compose(row.cells[8], run.tagList.join("\n"), () => run.tagList.flatMap((tag) => [element("span", { className: "tag" }, tag), " "]));
  const value = metricValue(run);
  write(row.cells[9], value === null || value === undefined ? "–" : Number(value).toPrecision(5));
  extraColumns.forEach((key, i) => {
    const text = columnText(columnValue(key, run, summaries));
    if (key !== "f|description" || !canEdit) write(row.cells[10 + i], text);
    else compose(row.cells[10 + i], text, () => [element("span", {}, text), " ", pencil("description", run)]);
  });
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
  const page = matching.slice(0, limit);
  const shown = children.expand(page).map(([run, depth]) => {
    const row = rowOf(run);
    row.classList.toggle("child-run", depth > 0);
    row.style.setProperty("--depth", depth);
    const toggle = row.querySelector("button[data-expand]");
    if (toggle) {
      const open = children.isOpen(run.id);
      toggle.setAttribute("aria-expanded", String(open));
      toggle.textContent = `${open ? "▾" : "▸"} ${run.child_runs}`;
    }
    return row;
  });
  body.replaceChildren(...shown);
  for (const row of shown) fill(row);
  if (!shown.length) {
    const empty = body.insertRow().insertCell();
    empty.colSpan = 10 + extraColumns.length;
    empty.textContent = runs.length ? "No runs match the filters." : "No runs yet.";
  }
  remember();
  const of = filtered ? `the ${matching.length} runs that match (${runs.length} in all)` : `${runs.length} runs`;
  shownNote.textContent = runs.length ? `Showing ${page.length} of ${of}.` : "";
  const rest = matching.length - page.length;
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

// --- the name and the description, edited in the table (PATCH, as on the run page) ------
body.addEventListener("click", (click) => {
  const button = click.target.closest("button[data-edit]");
  if (!button) return;
  const run = byId.get(button.closest("tr").dataset.run);
  editInPlace({
    cell: button.closest("td"), run, field: button.dataset.edit,
    url: `${table.dataset.series}${encodeURIComponent(run.id)}`,
    saved(details) {
      const name = details.displayName === details.runId ? "" : details.displayName;
      update({ ...run, name, description: details.description, created: details.createdUtc,
        started: details.startTimeUtc, ended: details.endTimeUtc });
      refresh();
    },
  });
});

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
  ["where", where], ["image", (run) => run.properties?.[IMAGE_PROPERTY]],
  ["environment", environmentLabel], ["git commit", gitCommit],
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

// --- live rows: a run that is going has its cells (metrics, tags, times) asked for again
// every few seconds, in one request for all of them, and at once when its status changes;
// a run this page has not seen may be a new one of this experiment, and joins the table.
const tableApi = table.dataset.tableApi;
const due = new Set();  // run ids to ask for with the next request
const elsewhere = new Set();  // runs of the workspace's other experiments: not asked again
let asking = null;

function update(row) {
  const run = byId.get(row.id);
  if (!run) return;
  if (Boolean(run.child_runs) !== Boolean(row.child_runs)) rows.delete(run.id);  // its toggle comes or goes
  for (const key of Object.keys(run)) delete run[key];  // cached parameters go with the old tags
  Object.assign(run, tableRun(row));
}

// A new child of a run on show: the parent's row (and its count) is asked for again, and its
// list of children, when it was fetched, is fetched again.
const reloading = new Set();
async function childArrived(parentId) {
  if (!byId.has(parentId) || reloading.has(parentId)) return;
  reloading.add(parentId);
  try {
    await children.reload(parentId);
  } finally {
    reloading.delete(parentId);
  }
  refreshRows([parentId]);
}

async function refreshRows(ids) {
  for (const id of ids) due.add(id);
  if (asking || !due.size) return;
  // As many as an address holds (web servers refuse a request line of 16 KB); the rest next.
  const parts = [];
  for (const id of due) {
    if (parts.join("&").length > 6000) break;
    parts.push(`run=${encodeURIComponent(id)}`);
    due.delete(id);
  }
  const query = parts.join("&");
  asking = api("GET", `${tableApi}?${query}`).catch(() => ({ runs: [], metrics: {} }));
  const answer = await asking;
  asking = null;
  let added = false;
  const answered = new Set(answer.runs.map((row) => row.id));
  for (const part of parts) {
    const id = decodeURIComponent(part.slice(4));
    if (!answered.has(id) && !byId.has(id)) elsewhere.add(id);
  }
  for (const row of answer.runs) {
    summaries[row.id] = answer.metrics[row.id] || {};
    if (byId.has(row.id)) { update(row); continue; }
    if (row.parent_id) { elsewhere.add(row.id); childArrived(row.parent_id); continue; }
    const run = tableRun(row);
    runs.unshift(run);
    byId.set(run.id, run);
    added = true;
  }
  learnMetricNames();
  if (added) sortBy(sorted.key, sorted.descending);
  if (added) show(); else refresh();
  if (due.size) refreshRows([]);
}

// A metric first logged after the page opened becomes a choice of the metric column and of
// the column chooser.
function learnMetricNames() {
  const known = new Set([...metricSelect.options].map((option) => option.value));
  const fresh = [...new Set(Object.values(summaries).flatMap(Object.keys))].filter((name) => !known.has(name)).sort();
  if (!fresh.length) return;
  if (known.has("")) metricSelect.replaceChildren();
  metricSelect.append(...fresh.map((name) => new Option(name, name)));
  addColumn.append(...columnChoices([], fresh).filter(([key]) => key.startsWith("m|")).map(([key, label]) => new Option(label, key)));
  showHeader();
}

const going = () => runs.filter((run) => !FINAL.has(run.status)).map((run) => run.id);
let soon = null;
// A new run is asked for at once; a known one's events are gathered for 300 ms, so a burst of
// them (Queued, Preparing, Running in a second) makes one request, not one each.
function refreshSoon(id) {
  if (elsewhere.has(id) && !byId.has(id)) return;  // (a child is in byId once its list is open)
  due.add(id);
  if (!byId.has(id)) { clearTimeout(soon); soon = null; refreshRows([]); return; }
  soon ??= setTimeout(() => { soon = null; refreshRows([]); }, 300);
}

liveSocket(table.dataset.live, {
  onEvent(event) {
    if (event.kind !== "status") return;
    const run = byId.get(event.run_id);
    refreshSoon(event.run_id);
    if (!run) return;
    // Close enough for the duration column until the refresh brings the recorded times.
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
setInterval(() => { refresh(); refreshRows(going()); }, 5000);

const deleteButton = document.getElementById("delete-experiment-button");
deleteButton?.addEventListener("click", async () => {
  const { api: url, name, list } = deleteButton.dataset;
  if (await confirmDelete({ url, name })) location.assign(list);
});
