// The environment page: while a build is going, append its log and update its status.
import { api, setStatus } from "./common.js";

const log = document.getElementById("build-log");
const status = document.getElementById("build-status");
let offset = Number(log.dataset.offset || 0);
let first = offset === 0;

async function poll() {
  try {
    const answer = await api("GET", `${log.dataset.api}?offset=${offset}`);
    if (answer.text) {
      if (first) { log.textContent = ""; first = false; }
      log.textContent += answer.text;
      log.scrollTop = log.scrollHeight;
    }
    offset = answer.offset;
    setStatus(status, answer.build_status);
    if (answer.build_status === "Building") setTimeout(poll, 1000);
  } catch (problem) {
    setTimeout(poll, 5000);
  }
}

if (log.dataset.status === "Building") setTimeout(poll, 1000);
