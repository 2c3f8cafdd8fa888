// The datastore page's folder upload, as Datastore.upload does it: hash, ask which bodies
// the studio lacks, send those (uploader.js), then put every file at its path.
import { api, elements } from "./common.js";
import { hashed, human, pickedFiles, sendBatches } from "./uploader.js";

const { form, folder, summary, errorBox, progress, button } = elements({
  form: "datastore-upload", folder: "upload-folder", summary: "upload-summary",
  errorBox: "upload-error", progress: "upload-progress", button: "upload-button",
});
let chosen = [];

function fail(message) {
  errorBox.textContent = message;
  errorBox.hidden = false;
}

folder.addEventListener("change", () => {
  errorBox.hidden = true;
  chosen = pickedFiles(folder);
  const total = chosen.reduce((sum, f) => sum + f.file.size, 0);
  summary.textContent = `${chosen.length} file${chosen.length === 1 ? "" : "s"}, ${human(total)}`;
});

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  errorBox.hidden = true;
  if (!chosen.length) return fail("Choose a folder to upload (an empty folder has nothing to send).");
  const target = document.getElementById("upload-target").value.trim();
  button.disabled = true;
  try {
    const overwrite = document.getElementById("upload-overwrite").checked;
    // An empty commit checks the target path and the datastore before anything is sent.
    await api("POST", `${form.dataset.datastore}/files`, { files: [], target_path: target || null, overwrite });
    summary.textContent = "Hashing files…";
    const entries = await hashed(chosen);
    const { missing } = await api("POST", `${form.dataset.api}/blob-batches/missing`, { sha256: [...new Set(entries.map((e) => e.sha256))] });
    summary.textContent = `Sending ${missing.length} of ${entries.length} files (the studio has the rest)…`;
    const sent = await sendBatches(entries, missing, `${form.dataset.api}/blob-batches`, progress);
    const files = entries.map(({ file, ...entry }) => entry);
    const done = await api("POST", `${form.dataset.datastore}/files`, { files, target_path: target || null, overwrite });
    const shown = target && !target.endsWith("/") ? `${target}/` : target;
    location.search = new URLSearchParams({ prefix: shown, written: done.written, kept: done.skipped, sent: sent.bytes }).toString();
  } catch (problem) {
    progress.hidden = true;
    summary.textContent = "Nothing was put in the datastore.";
    fail(problem.message);
    button.disabled = false;
  }
});
