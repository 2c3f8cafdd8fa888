// The comparison of selected runs, side by side: a table of what differs (highlighted), every
// metric overlaid, parallel coordinates and a scatter of a parameter against a metric.
import { api } from "./common.js";

// A run's parameters: its tags and its `--name value` arguments (a bare `--flag` is "true").
export function parameters(run) {
  const found = {};
  for (const [key, value] of Object.entries(run.tags || {})) found[`tag ${key}`] = value;
  const args = run.arguments || [];
  for (let i = 0; i < args.length; i++) {
    if (!String(args[i]).startsWith("--")) continue;
    const [name, inline] = String(args[i]).slice(2).split(/=(.*)/s);
    const next = args[i + 1];
    found[`arg ${name}`] = inline ?? (next === undefined || String(next).startsWith("--") ? "true" : String(args[++i]));
  }
  return found;
}

const cell = (tag, text) => Object.assign(document.createElement(tag), { textContent: text });

function comparisonTable(box, runs, rows) {
  const table = document.createElement("table");
  table.className = "grid";
  table.id = "compare-table";
  const head = table.createTHead().insertRow();
  head.append(cell("th", "Run"), ...runs.map((run) => Object.assign(cell("th", `#${run.number} ${run.name}`), { scope: "col" })));
  const body = table.createTBody();
  for (const [label, values] of rows) {
    const row = body.insertRow();
    row.append(Object.assign(cell("th", label), { scope: "row" }), ...values.map((v) => cell("td", v ?? "–")));
    if (new Set(values.map(String)).size > 1) row.className = "diff";
  }
  box.replaceChildren(table);
}

const summary = (value) => (value === null || value === undefined ? "–" : Number(value).toPrecision(5));

export async function showComparison({ runs, summaries, seriesUrl, plotly, boxes, describe }) {
  const params = runs.map(parameters);
  const paramNames = [...new Set(params.flatMap(Object.keys))].sort();
  const metricNames = [...new Set(runs.flatMap((run) => Object.keys(summaries[run.id] || {})))].sort();
  const rows = [
    ...describe.map(([label, read]) => [label, runs.map(read)]),
    ...paramNames.map((name) => [name, params.map((p) => p[name])]),
    ...metricNames.flatMap((name) => ["last_value", "min_value", "max_value"].map((stat) =>
      [`${name} (${stat.split("_")[0]})`, runs.map((run) => summary(summaries[run.id]?.[name]?.[stat]))])),
  ];
  comparisonTable(boxes.table, runs, rows);
  const Plotly = await plotly();
  await overlay(Plotly, boxes.charts, runs, metricNames, seriesUrl);
  const numeric = paramNames.filter((name) => params.every((p) => p[name] === undefined || Number.isFinite(Number(p[name]))));
  parallel(Plotly, boxes.parallel, runs, params, numeric, metricNames, summaries);
  scatter(Plotly, boxes, runs, params, paramNames, metricNames, summaries);
}

export async function overlay(Plotly, box, runs, metricNames, seriesUrl) {
  box.replaceChildren();
  for (const name of metricNames) {
    const traces = await Promise.all(runs.map(async (run) => {
      const series = await api("GET", `${seriesUrl}${encodeURIComponent(run.id)}/series?name=${encodeURIComponent(name)}`)
        .catch(() => ({ steps: [], values: [] }));
      return { x: series.steps, y: series.values.map(Number), mode: "lines", name: `#${run.number} ${run.name}` };
    }));
    const div = Object.assign(document.createElement("div"), { className: "chart" });
    div.dataset.metric = name;
    div.setAttribute("aria-label", `Chart of ${name} for the compared runs`);
    box.append(div);
    await Plotly.newPlot(div, traces, { title: { text: name }, margin: { t: 40 }, height: 320, xaxis: { title: { text: "step" } } }, { responsive: true });
  }
}

function parallel(Plotly, box, runs, params, numeric, metricNames, summaries) {
  const dimensions = [
    ...numeric.map((name) => ({ label: name, values: params.map((p) => Number(p[name] ?? NaN)) })),
    ...metricNames.map((name) => ({ label: name, values: runs.map((run) => summaries[run.id]?.[name]?.last_value ?? NaN) })),
  ];
  box.hidden = dimensions.length < 2;
  if (box.hidden) return;
  Plotly.newPlot(box, [{ type: "parcoords", dimensions, line: { color: dimensions[dimensions.length - 1].values, colorscale: "Viridis" } }],
    { title: { text: "Parameters and metrics (last values)" }, margin: { t: 60, l: 60, r: 60 } }, { responsive: true });
}

function scatter(Plotly, boxes, runs, params, paramNames, metricNames, summaries) {
  const { scatterX, scatterY, scatter: box } = boxes;
  if (scatterX.options.length !== paramNames.length) scatterX.replaceChildren(...paramNames.map((n) => new Option(n, n)));
  if (scatterY.options.length !== metricNames.length) scatterY.replaceChildren(...metricNames.map((n) => new Option(n, n)));
  const draw = () => {
    const x = params.map((p) => p[scatterX.value] ?? null);
    const y = runs.map((run) => summaries[run.id]?.[scatterY.value]?.last_value ?? null);
    Plotly.newPlot(box, [{ x, y, text: runs.map((run) => `#${run.number} ${run.name}`), mode: "markers", type: "scatter", marker: { size: 10 } }],
      { title: { text: `${scatterY.value} (last) against ${scatterX.value}` }, margin: { t: 40 }, xaxis: { title: { text: scatterX.value } }, yaxis: { title: { text: scatterY.value } } },
      { responsive: true });
  };
  boxes.scatterBox.hidden = !paramNames.length || !metricNames.length;
  if (boxes.scatterBox.hidden) return;
  scatterX.onchange = scatterY.onchange = draw;
  draw();
}
