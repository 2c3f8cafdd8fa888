// Columns a user adds to the runs table: any metric's last, min or max, any argument or tag.
// A column is named by a key: "m|<metric>|<stat>" or "p|<parameter>" (see compare.js).
import { parameters } from "./compare.js";

const STATS = { last_value: "last", min_value: "min", max_value: "max" };

export function columnChoices(runs, metricNames) {
  const params = [...new Set(runs.flatMap((run) => Object.keys(parameters(run))))].sort();
  return [
    ...metricNames.flatMap((name) => Object.entries(STATS).map(([stat, label]) => [`m|${name}|${stat}`, `${name} (${label})`])),
    ...params.map((name) => [`p|${name}`, name]),
  ];
}

export function columnLabel(key) {
  const [kind, name, stat] = key.split("|");
  return kind === "m" ? `${name} (${STATS[stat] || stat})` : name;
}

// The value a column shows for a run, and the one it sorts by (numbers as numbers).
export function columnValue(key, run, summaries) {
  const [kind, name, stat] = key.split("|");
  if (kind === "m") return summaries[run.id]?.[name]?.[stat] ?? null;
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
