import { api } from "./common.js";
import { hashed, human, pickedFiles, sendBatches, stripTop, walk } from "./uploader.js";

const form = document.getElementById("submit-form");
const base = form.dataset.api;
const maxBytes = Number(form.dataset.maxBytes);
const maxFiles = Number(form.dataset.maxFiles);
const errorBox = document.getElementById("submit-error");
const summary = document.getElementById("folder-summary");
const scriptSelect = document.getElementById("script");
const progress = document.getElementById("progress");
let chosen = [];  // [{path, file}]

function fail(message) {
  errorBox.textContent = message;
  errorBox.hidden = false;
}

// What is wrong with the chosen folder is said next to the folder picker.
const folderError = document.getElementById("folder-error");
function failFolder(message) {
  folderError.textContent = message;
  folderError.hidden = false;
}

// The timeout in seconds, from a number and a unit; null when it is not a positive number.
function timeoutSeconds() {
  const amount = Number(document.getElementById("timeout").value);
  const seconds = Math.round(amount * Number(document.getElementById("timeout-unit").value));
  return Number.isFinite(seconds) && seconds >= 1 ? seconds : null;
}

// --- gitignore rules, the common subset: globs, **, anchors, folders, negation ------------
function ruleRegex(pattern) {
  let anchored = pattern.startsWith("/") || pattern.slice(0, -1).includes("/");
  pattern = pattern.replace(/^\//, "");
  let out = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "*" && pattern[i + 1] === "*") {
      out += pattern[i + 2] === "/" ? "(?:.*/)?" : ".*";
      i += pattern[i + 2] === "/" ? 2 : 1;
    } else if (c === "*") out += "[^/]*";
    else if (c === "?") out += "[^/]";
    else out += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${anchored ? "" : "(?:.*/)?"}${out}$`);
}

function ignoreRules(files) {
  const source = files.find((f) => f.path === ".amlignore") || files.find((f) => f.path === ".gitignore");
  if (!source) return Promise.resolve({ source: null, ignores: () => false });
  return source.file.text().then((text) => {
    const rules = text.split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#")).map((line) => {
      const negated = line.startsWith("!");
      let pattern = negated ? line.slice(1) : line;
      const folderOnly = pattern.endsWith("/");
      pattern = pattern.replace(/\/$/, "");
      return { negated, folderOnly, regex: ruleRegex(pattern) };
    });
    const matches = (path, isFolder) => {
      let ignored = false;
      for (const rule of rules) {
        if (rule.folderOnly && !isFolder) continue;
        if (rule.regex.test(path)) ignored = !rule.negated;
      }
      return ignored;
    };
    const ignores = (path) => {
      const parts = path.split("/");
      for (let i = 1; i < parts.length; i++) {  // a file inside an ignored folder is ignored
        if (matches(parts.slice(0, i).join("/"), true)) return true;
      }
      return matches(path, false);
    };
    return { source: source.path, ignores };
  });
}

// --- choosing a folder: the file input or a drop ----------------------------------------
// The fewest top-level folders or files, largest first (at most five), whose leaving out
// brings the folder within the limits, as anchored .amlignore lines: "/data/", "/model.pt".
function suggestedIgnore(files, excessBytes, excessFiles) {
  const groups = new Map();
  for (const f of files) {
    const slash = f.path.indexOf("/");
    const line = `/${slash < 0 ? f.path : f.path.slice(0, slash + 1)}`;
    const group = groups.get(line) || { line, bytes: 0, count: 0 };
    group.bytes += f.file.size;
    group.count += 1;
    groups.set(line, group);
  }
  const key = excessBytes > 0 ? "bytes" : "count";
  const ranked = [...groups.values()].sort((a, b) => b[key] - a[key]).slice(0, 5);
  const chosen = [];
  let [bytes, count] = [0, 0];
  for (const group of ranked) {
    if (bytes >= excessBytes && count >= excessFiles) break;
    chosen.push(group.line);
    bytes += group.bytes;
    count += group.count;
  }
  return chosen;
}

async function accept(files) {
  errorBox.hidden = folderError.hidden = true;
  files = files.filter((f) => !f.path.split("/").includes(".git"));
  const rules = await ignoreRules(files);
  const kept = files.filter((f) => !rules.ignores(f.path));
  const total = kept.reduce((sum, f) => sum + f.file.size, 0);
  const ignored = files.length - kept.length;
  if (total > maxBytes || kept.length > maxFiles) {
    const largest = [...kept].sort((a, b) => b.file.size - a.file.size).slice(0, 5)
      .map((f) => `${f.path} (${human(f.file.size)})`).join(", ");
    chosen = [];
    scriptSelect.replaceChildren(new Option("choose a folder first", ""));
    const lines = suggestedIgnore(kept, total - maxBytes, kept.length - maxFiles).map((line) => `"${line}"`).join(", ");
    return failFolder(`The folder is too large to submit: ${kept.length} files, ${human(total)} (limits: ${maxFiles} files, ${human(maxBytes)}). Largest: ${largest}. Add what the run doesn't need to .amlignore, e.g. the lines ${lines}.`);
  }
  chosen = kept;
  summary.textContent = `${kept.length} file${kept.length === 1 ? "" : "s"}, ${human(total)}` +
    (ignored ? `; ${ignored} left out by ${rules.source}` : "");
  const scripts = kept.map((f) => f.path).filter((p) => p.endsWith(".py")).sort();
  scriptSelect.replaceChildren(new Option("choose the script", ""), ...scripts.map((p) => new Option(p, p)));
  if (scripts.includes("train.py")) scriptSelect.value = "train.py";
}

document.getElementById("folder").addEventListener("change", (change) => {
  accept(pickedFiles(change.target));
});

const drop = document.getElementById("drop");
drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", async (event) => {
  event.preventDefault();
  drop.classList.remove("over");
  const entries = [...event.dataTransfer.items].map((item) => item.webkitGetAsEntry()).filter(Boolean);
  if (entries.length !== 1 || !entries[0].isDirectory) {
    return failFolder("Drop one folder (the source directory), not files. To send single files, put them in a folder first.");
  }
  accept((await walk(entries[0])).map((f) => ({ ...f, path: stripTop(f.path) })));
});

// --- arguments are split like a shell would, but never run through one --------------------
export function splitArguments(text) {
  const out = [];
  let current = null;
  let quote = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === quote) quote = null;
      else if (c === "\\" && quote === '"' && i + 1 < text.length) current += text[++i];
      else current += c;
    } else if (c === "'" || c === '"') { quote = c; current = current ?? ""; }
    else if (c === "\\" && i + 1 < text.length) { current = (current ?? "") + text[++i]; }
    else if (/\s/.test(c)) { if (current !== null) { out.push(current); current = null; } }
    else current = (current ?? "") + c;
  }
  if (quote) throw new Error(`The arguments have an unbalanced ${quote} quote; close it or escape it with a backslash.`);
  if (current !== null) out.push(current);
  return out;
}

// --- submitting: hash, negotiate, send what is missing, create the snapshot, submit --------
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  errorBox.hidden = folderError.hidden = true;
  const experiment = document.getElementById("experiment").value.trim();
  let args;
  try { args = splitArguments(document.getElementById("arguments").value); } catch (problem) { return fail(problem.message); }
  if (!experiment) return fail("Choose an experiment, or type a name for a new one.");
  if (!chosen.length) return failFolder("Choose the source folder to upload.");
  const timeout = timeoutSeconds();
  if (timeout === null) return fail("The timeout must be a positive number of minutes, hours or days.");
  if (!scriptSelect.value) return fail("Choose the script to run from the uploaded folder.");
  const button = document.getElementById("submit-button");
  button.disabled = true;
  try {
    summary.textContent = "Hashing files…";
    const entries = await hashed(chosen);
    const files = entries.map(({ file, ...entry }) => entry);
    const { missing } = await api("POST", `${base}/snapshots/negotiate`, { files });
    summary.textContent = `Sending ${new Set(missing).size} of ${entries.length} files (the studio has the rest)…`;
    await sendBatches(entries, missing, `${base}/blob-batches`, progress);
    const snapshot = await api("POST", `${base}/snapshots`, { files });
    const found = await api("POST", `${base}/experiments/resolve`, { name: experiment });
    const tags = Object.fromEntries(document.getElementById("tags").value.split("\n").map((l) => l.trim()).filter(Boolean)
      .map((l) => [l.split("=")[0].trim(), l.includes("=") ? l.slice(l.indexOf("=") + 1).trim() : ""]));
    const environmentChoice = document.getElementById("environment").value;
    const config = {
      script: scriptSelect.value, arguments: args, compute_target: document.getElementById("target").value,
      max_run_duration_seconds: timeout, tags, display_name: document.getElementById("display-name").value.trim(),
      // A registered version, by reference: "name:version".
      environment: environmentChoice ? { name: environmentChoice.slice(0, environmentChoice.lastIndexOf(":")), version: environmentChoice.slice(environmentChoice.lastIndexOf(":") + 1) } : null,
    };
    const run = await api("POST", `${base}/experiments/${found.id}/runs`, { snapshot_id: snapshot.id, config });
    const description = document.getElementById("description").value.trim();
    if (description) await api("PATCH", `${base}/runs/${encodeURIComponent(run.runId)}`, { description });
    location.href = `${form.dataset.runPage}${encodeURIComponent(run.runId)}/#outputs`;
  } catch (problem) {
    progress.hidden = true;
    summary.textContent = "Nothing was submitted.";
    fail(problem.message);
    button.disabled = false;
  }
});
