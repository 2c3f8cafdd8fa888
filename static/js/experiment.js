import { api, liveSocket, setStatus } from "./common.js";
import { confirmDelete } from "./delete_experiment.js";

const table = document.getElementById("runs");
const body = table.tBodies[0];
const rows = () => [...body.querySelectorAll("tr[data-run]")];
const summaries = JSON.parse(document.getElementById("metric-summaries").textContent);
const metricSelect = document.getElementById("metric-column");
const statSelect = document.getElementById("metric-stat");
const compareButton = document.getElementById("compare");
const chart = document.getElementById("compare-chart");

function duration(row) {
  const [start, end] = (row.dataset.duration || ":").split(":").map(Number);
  if (!start) return null;
  return (end || Date.now() / 1000) - start;
}

function formatDuration(seconds) {
  if (seconds === null) return "–";
  const s = Math.round(seconds);
  return s < 60 ? `${s}s` : s < 3600 ? `${Math.floor(s / 60)}m ${s % 60}s` : `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

function metricValue(row) {
  const metric = (summaries[row.dataset.run] || {})[metricSelect.value];
  return metric ? metric[statSelect.value] : null;
}

function render() {
  document.getElementById("metric-header").textContent =
    metricSelect.value ? `${metricSelect.value} (${statSelect.selectedOptions[0].text})` : "Metric";
  for (const row of rows()) {
    row.querySelector("[data-duration-cell]").textContent = formatDuration(duration(row));
    const value = metricValue(row);
    row.querySelector("[data-metric-cell]").textContent = value === null || value === undefined ? "–" : Number(value).toPrecision(5);
  }
}

function applyFilters() {
  const status = document.getElementById("status-filter").value;
  const tag = document.getElementById("tag-filter").value.trim();
  for (const row of rows()) {
    const tags = row.dataset.tags.split(";");
    const tagOk = !tag || tags.some((t) => (tag.includes("=") ? t === tag : t.split("=")[0] === tag));
    row.hidden = (status && row.dataset.status !== status) || !tagOk;
  }
}

const sortKeys = {
  number: (r) => Number(r.dataset.number),
  name: (r) => r.dataset.name.toLowerCase(),
  status: (r) => r.dataset.status,
  duration: (r) => duration(r) ?? -1,
  user: (r) => r.dataset.user,
  created: (r) => Number(r.dataset.created),
  metric: (r) => metricValue(r) ?? -Infinity,
};
let sorted = { key: "number", descending: true };
table.tHead.addEventListener("click", (click) => {
  const button = click.target.closest("button[data-sort]");
  if (!button) return;
  const key = button.dataset.sort;
  sorted = { key, descending: sorted.key === key ? !sorted.descending : false };
  const keyOf = sortKeys[key];
  const ordered = rows().sort((a, b) => {
    const [x, y] = [keyOf(a), keyOf(b)];
    return (x < y ? -1 : x > y ? 1 : 0) * (sorted.descending ? -1 : 1);
  });
  body.append(...ordered);
  for (const th of table.tHead.querySelectorAll("th")) th.removeAttribute("aria-sort");
  button.closest("th").setAttribute("aria-sort", sorted.descending ? "descending" : "ascending");
});

const tensorboardForm = document.getElementById("tensorboard-form");
body.addEventListener("change", () => {
  const checked = body.querySelectorAll("input:checked").length;
  compareButton.disabled = checked < 2 || !metricSelect.value;
  tensorboardForm.querySelector("button").disabled = checked < 1;
});

// One TensorBoard over the selected runs, in a new tab.
tensorboardForm.addEventListener("submit", () => {
  for (const old of tensorboardForm.querySelectorAll("input[name=run]")) old.remove();
  for (const box of body.querySelectorAll("input:checked")) {
    const input = Object.assign(document.createElement("input"), { type: "hidden", name: "run", value: box.closest("tr").dataset.run });
    tensorboardForm.append(input);
  }
});

compareButton.addEventListener("click", async () => {
  const selected = [...body.querySelectorAll("input:checked")].map((box) => box.closest("tr"));
  const name = metricSelect.value;
  const traces = await Promise.all(selected.map(async (row) => {
    const series = await api("GET", `${table.dataset.series}${encodeURIComponent(row.dataset.run)}/series?name=${encodeURIComponent(name)}`)
      .catch(() => ({ steps: [], values: [] }));
    return { x: series.steps, y: series.values, mode: "lines", name: `#${row.dataset.number} ${row.dataset.name}` };
  }));
  chart.hidden = false;
  Plotly.newPlot(chart, traces, { title: { text: name }, margin: { t: 40 }, xaxis: { title: { text: "step" } } }, { responsive: true });
});

for (const control of ["status-filter", "tag-filter"]) {
  document.getElementById(control).addEventListener("input", applyFilters);
}
metricSelect.addEventListener("change", () => { render(); body.dispatchEvent(new Event("change")); });
statSelect.addEventListener("change", render);

liveSocket(table.dataset.live, {
  onEvent(event) {
    if (event.kind !== "status") return;
    const row = body.querySelector(`tr[data-run="${CSS.escape(event.run_id)}"]`);
    if (!row) return;
    row.dataset.status = event.status;
    setStatus(row.querySelector("[data-status]"), event.status);
  },
});
render();
setInterval(render, 5000);

const deleteButton = document.getElementById("delete-experiment-button");
deleteButton?.addEventListener("click", async () => {
  const { api: url, name, list } = deleteButton.dataset;
  if (await confirmDelete({ url, name })) location.assign(list);
});
