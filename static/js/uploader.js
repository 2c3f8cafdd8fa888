// Sending a folder from the browser, for the submit page and the datastore page: pick or
// drop a folder, hash each file, ask which bodies the studio lacks, send only those with a
// progress bar. The studio keeps bodies once per sha256, so a second upload sends changes only.
import { csrfToken, failure } from "./common.js";

export function human(size) {
  const units = ["B", "KB", "MB", "GB"];
  let i = 0;
  while (size >= 1024 && i < units.length - 1) { size /= 1024; i++; }
  return `${size.toFixed(i ? 1 : 0)} ${units[i]}`;
}

// A picked folder's paths start with the folder's own name; the upload is of its contents.
export function stripTop(path) {
  return path.includes("/") ? path.slice(path.indexOf("/") + 1) : path;
}

// The files of a folder input: [{path, file}].
export function pickedFiles(input) {
  return [...input.files].map((file) => ({ path: stripTop(file.webkitRelativePath || file.name), file }));
}

// The files under a dropped folder entry: [{path, file}], paths from the folder's name down.
export function walk(entry, prefix = "") {
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

export async function sha256(file) {
  const digest = await crypto.subtle.digest("SHA-256", await file.arrayBuffer());
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

// Manifest entries for the chosen files, hashed: [{path, size, sha256, mode, file}].
export async function hashed(chosen) {
  if (!crypto.subtle) throw new Error("Browser uploads need https or localhost (for SubtleCrypto); use the SDK, or serve the studio over https.");
  const entries = [];
  for (const f of chosen) entries.push({ path: f.path, size: f.file.size, sha256: await sha256(f.file), mode: 420, file: f.file });
  return entries;
}

// PUT or POST `body` to `url`; onProgress(bytes sent of this body).
export function send(method, url, body, onProgress) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open(method, url);
    request.setRequestHeader("X-CSRFToken", csrfToken());
    request.setRequestHeader("Content-Type", "application/octet-stream");
    request.upload.onprogress = (event) => onProgress(event.loaded);
    request.onload = () => (request.status < 300 ? resolve(request.responseText) : reject(failure(request.status, request.statusText, request.responseText)));
    request.onerror = () => reject(new Error("The upload was interrupted; check the connection and try again."));
    request.send(body);
  });
}

// Send the bodies of `entries` whose sha256 is in `missing` to blob-batches, each once, in
// requests of a JSON index line then the bodies back to back, moving `progress` (a
// <progress>) over their total. Returns how many were sent and their bytes.
export async function sendBatches(entries, missing, url, progress, batchBytes = 64 * 1024 * 1024) {
  const wanted = new Set(missing);
  const uploads = entries.filter((e) => wanted.delete(e.sha256));
  const total = uploads.reduce((sum, e) => sum + e.size, 0);
  progress.hidden = false;
  progress.max = Math.max(1, total);
  progress.value = 0;
  let sent = 0;
  for (let start = 0; start < uploads.length;) {
    const batch = [];
    let size = 0;
    while (start < uploads.length && (!batch.length || size + uploads[start].size <= batchBytes) && batch.length < 500) {
      batch.push(uploads[start]);
      size += uploads[start++].size;
    }
    const index = JSON.stringify({ blobs: batch.map((e) => ({ sha256: e.sha256, size: e.size })) }) + "\n";
    await send("POST", url, new Blob([index, ...batch.map((e) => e.file)]), (loaded) => { progress.value = sent + Math.min(loaded, size); });
    sent += size;
    progress.value = sent;
  }
  return { count: uploads.length, bytes: total };
}
