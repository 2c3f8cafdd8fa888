// The comparison of selected runs, side by side: a table of what differs (highlighted), every
// metric overlaid, parallel coordinates and a scatter of a parameter against a metric.
import { themed } from "./chart_theme.js";
import { api } from "./common.js";

// A run's parameters: its tags, the params an MLflow client logged, and its `--name value`
// arguments (a bare `--flag` is "true").
export function parameters(run) {
  const found = {};
  for (const [key, value] of Object.entries(run.tags || {})) found[`tag ${key}`] = value;
  for (const [key, value] of Object.entries(run.mlflow_params || {})) found[`param ${key}`] = value;
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
  scatter(Plotly, boxes, runs, params, paramNames, metricNames, summaries);
  // Last: parallel coordinates draw with WebGL, which takes seconds where the browser has no
  // graphics card to hand it to (software rendering); everything else is on show before.
  await frame();
  parallel(Plotly, boxes.parallel, runs, params, numeric, metricNames, summaries);
}

// Every series of `names` for `runs`, in one request to the studio: a comparison of 20 runs
// with 10 metrics each once took 200 requests, 20 at a time. Only long run ids split it, so
// that no address grows past what web servers take (uvicorn refuses a request line of 16 KB).
const ADDRESS_BUDGET = 6000;
export async function seriesOf(seriesUrl, runs, names) {
  const nameQuery = names.map((name) => `name=${encodeURIComponent(name)}`).join("&");
  const groups = [[]];
  let length = 0;
  for (const run of runs) {
    const part = `run=${encodeURIComponent(run.id)}&`;
    if (length + part.length > ADDRESS_BUDGET && groups.at(-1).length) { groups.push([]); length = 0; }
    groups.at(-1).push(part);
    length += part.length;
  }
  const answers = await Promise.all(groups.map((group) => api("GET", `${seriesUrl}?${group.join("")}${nameQuery}`)));
  return Object.assign({}, ...answers.map((answer) => answer.series));
}

// Lets the browser paint what is drawn so far: each chart shows as soon as it is ready.
const frame = () => new Promise((done) => requestAnimationFrame(() => setTimeout(done, 0)));

export async function overlay(Plotly, box, runs, metricNames, seriesUrl) {
  const series = metricNames.length && runs.length ? await seriesOf(seriesUrl, runs, metricNames) : {};
  box.replaceChildren();
  for (const name of metricNames) {
    const traces = runs.map((run) => {
      const one = series[run.id]?.[name] ?? { steps: [], values: [] };
      return { x: one.steps, y: one.values.map(Number), mode: "lines", name: `#${run.number} ${run.name}` };
    });
    const div = Object.assign(document.createElement("div"), { className: "chart" });
    div.dataset.metric = name;
    div.setAttribute("aria-label", `Chart of ${name} for the compared runs`);
    box.append(div);
    await frame();
    await Plotly.newPlot(div, traces, themed({ title: { text: name }, margin: { t: 40 }, height: 320, xaxis: { title: { text: "step" } } }), { responsive: true });
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
    themed({ title: { text: "Parameters and metrics (last values)" }, margin: { t: 60, l: 60, r: 60 } }), { responsive: true });
}

function scatter(Plotly, boxes, runs, params, paramNames, metricNames, summaries) {
  const { scatterX, scatterY, scatter: box } = boxes;
  if (scatterX.options.length !== paramNames.length) scatterX.replaceChildren(...paramNames.map((n) => new Option(n, n)));
  if (scatterY.options.length !== metricNames.length) scatterY.replaceChildren(...metricNames.map((n) => new Option(n, n)));
  const draw = () => {
    const x = params.map((p) => p[scatterX.value] ?? null);
    const y = runs.map((run) => summaries[run.id]?.[scatterY.value]?.last_value ?? null);
    Plotly.newPlot(box, [{ x, y, text: runs.map((run) => `#${run.number} ${run.name}`), mode: "markers", type: "scatter", marker: { size: 10 } }],
      themed({ title: { text: `${scatterY.value} (last) against ${scatterX.value}` }, margin: { t: 40 }, xaxis: { title: { text: scatterX.value } }, yaxis: { title: { text: scatterY.value } } }),
      { responsive: true });
  };
  boxes.scatterBox.hidden = !paramNames.length || !metricNames.length;
  if (boxes.scatterBox.hidden) return;
  scatterX.onchange = scatterY.onchange = draw;
  draw();
}
