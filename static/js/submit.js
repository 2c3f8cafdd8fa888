import { api, csrfToken, failure } from "./common.js";

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

function human(size) {
  const units = ["B", "KB", "MB", "GB"];
  let i = 0;
  while (size >= 1024 && i < units.length - 1) { size /= 1024; i++; }
  return `${size.toFixed(i ? 1 : 0)} ${units[i]}`;
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
function stripTop(path) {
  return path.includes("/") ? path.slice(path.indexOf("/") + 1) : path;
}

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
  accept([...change.target.files].map((file) => ({ path: stripTop(file.webkitRelativePath || file.name), file })));
});

function walk(entry, prefix = "") {
  return new Promise((resolve) => {
    if (entry.isFile) {
      entry.file((file) => resolve([{ path: prefix + entry.name, file }]), () => resolve([]));
      return;
    }
    const reader = entry.createReader();
    const all = [];
    const next = () => reader.readEntries(async (entries) => {
      if (!entries.length) {
        const nested = await Promise.all(all.map((e) => walk(e, `${prefix}${entry.name}/`)));
        resolve(nested.flat());
        return;
      }
      all.push(...entries);
      next();
    });
    next();
  });
}

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
function put(url, file) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("PUT", url);
    request.setRequestHeader("X-CSRFToken", csrfToken());
    request.setRequestHeader("Content-Type", "application/octet-stream");
    request.upload.onprogress = (event) => { progress.value = sent + event.loaded; };
    request.onload = () => (request.status < 300 ? resolve() : reject(failure(request.status, request.statusText, request.responseText)));
    request.onerror = () => reject(new Error("The upload was interrupted; check the connection and submit again."));
    request.send(file);
  });
}
let sent = 0;

async function sha256(file) {
  const digest = await crypto.subtle.digest("SHA-256", await file.arrayBuffer());
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

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
  if (!crypto.subtle) return fail("Browser uploads need https or localhost (for SubtleCrypto); use the SDK, or serve the studio over https.");
  const button = document.getElementById("submit-button");
  button.disabled = true;
  try {
    summary.textContent = "Hashing files…";
    const entries = [];
    for (const f of chosen) entries.push({ path: f.path, size: f.file.size, sha256: await sha256(f.file), mode: 420, file: f.file });
    const files = entries.map(({ file, ...entry }) => entry);
    const { missing } = await api("POST", `${base}/snapshots/negotiate`, { files });
    const wanted = new Set(missing);
    const uploads = entries.filter((e) => wanted.delete(e.sha256));
    progress.hidden = false;
    progress.max = Math.max(1, uploads.reduce((sum, e) => sum + e.size, 0));
    sent = 0;
    summary.textContent = `Sending ${uploads.length} of ${entries.length} files (the studio has the rest)…`;
    for (const entry of uploads) {
      await put(`${base}/blobs/${entry.sha256}`, entry.file);
      sent += entry.size;
      progress.value = sent;
    }
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
