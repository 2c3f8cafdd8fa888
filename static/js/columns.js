// Columns a user adds to the runs table: any metric's last, min or max, any argument or tag,
// any property, and what the run is (description, environment, image, node, git commit).
// A column is named by a key: "m|<metric>|<stat>", "p|<parameter>" (see compare.js),
// "r|<property>" or "f|<field>".
import { parameters } from "./compare.js";

const STATS = { last_value: "last", min_value: "min", max_value: "max" };
export const IMAGE_PROPERTY = "mlstudio.image";
const GIT_COMMIT = ["azureml.git.commit", "mlflow.source.git.commit"];
const GIT_DIRTY = ["azureml.git.dirty", "mlflow.source.git.dirty"];
// Properties shown under their own names (git facts, the image) are not offered again raw.
const SHOWN_ELSEWHERE = /^(azureml\.git\.|mlflow\.source\.git\.|mlstudio\.)/;

const first = (properties, keys) => keys.map((key) => properties?.[key]).find((v) => v !== undefined && v !== "");

export function gitCommit(run) {
  const commit = first(run.properties, GIT_COMMIT);
  if (!commit) return null;
  const dirty = String(first(run.properties, GIT_DIRTY)).toLowerCase() === "true";
  return `${String(commit).slice(0, 12)}${dirty ? " (dirty)" : ""}`;
}

export const environmentLabel = (run) => (run.environment ? `${run.environment.name}:${run.environment.version}` : "user-managed");

const FIELDS = {
  description: ["description", (run) => run.description || null],
  environment: ["environment", environmentLabel],
  image: ["image", (run) => run.properties?.[IMAGE_PROPERTY] ?? null],
  node: ["node", (run) => run.node || null],
  commit: ["git commit", gitCommit],
};

export function columnChoices(runs, metricNames) {
  const params = [...new Set(runs.flatMap((run) => Object.keys(parameters(run))))].sort();
  const properties = [...new Set(runs.flatMap((run) => Object.keys(run.properties || {})))]
    .filter((key) => !SHOWN_ELSEWHERE.test(key)).sort();
  return [
    ...Object.entries(FIELDS).map(([field, [label]]) => [`f|${field}`, label]),
    ...metricNames.flatMap((name) => Object.entries(STATS).map(([stat, label]) => [`m|${name}|${stat}`, `${name} (${label})`])),
    ...params.map((name) => [`p|${name}`, name]),
    ...properties.map((key) => [`r|${key}`, `property ${key}`]),
  ];
}

export function columnLabel(key) {
  const [kind, name, stat] = key.split("|");
  if (kind === "m") return `${name} (${STATS[stat] || stat})`;
  if (kind === "f") return FIELDS[name]?.[0] ?? name;
  return kind === "r" ? `property ${name}` : name;
}

// The value a column shows for a run, and the one it sorts by (numbers as numbers).
export function columnValue(key, run, summaries) {
  const [kind, name, stat] = key.split("|");
  if (kind === "m") return summaries[run.id]?.[name]?.[stat] ?? null;
  if (kind === "f") return FIELDS[name]?.[1](run) ?? null;
  if (kind === "r") return run.properties?.[name] ?? null;
  run.params ??= parameters(run);
  return run.params[name] ?? null;
}

export function columnText(value) {
  if (value === null || value === undefined) return "–";
  return typeof value === "number" ? Number(value).toPrecision(5) : String(value);
}

export function sortValue(value) {
  if (value === null || value === undefined) return -Infinity;
  const number = Number(value);
  return Number.isFinite(number) ? number : String(value).toLowerCase();
}
