// The environment page: until the shown version is built, follow its build status and append
// its build log as it grows. A version not built yet is polled too, more slowly, so the page
// shows the build a run starts without a reload.
import { api, setStatus } from "./common.js";

const POLL_MS = { NotBuilt: 3000, Building: 1000 };
const LABELS = { NotBuilt: "Not built" };

const log = document.getElementById("build-log");
const status = document.getElementById("build-status");
let offset = Number(log.dataset.offset || 0);
let first = offset === 0;
let shown = log.dataset.status;

async function poll() {
  try {
    const answer = await api("GET", `${log.dataset.api}?offset=${offset}`);
    if (answer.text) {
      if (first) { log.textContent = ""; first = false; }
      log.textContent += answer.text;
      log.scrollTop = log.scrollHeight;
    }
    offset = answer.offset;
    if (answer.build_status !== shown) {
      shown = answer.build_status;
      setStatus(status, shown);
      status.textContent = LABELS[shown] || shown;
    }
    if (POLL_MS[shown]) setTimeout(poll, POLL_MS[shown]);
  } catch (problem) {
    setTimeout(poll, 5000);
  }
}

if (POLL_MS[shown]) setTimeout(poll, POLL_MS[shown]);
