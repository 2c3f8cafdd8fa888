import { liveSocket, setStatus } from "./common.js";

const table = document.getElementById("recent-runs");
liveSocket(table.dataset.live, {
  onEvent(event) {
    if (event.kind !== "status") return;
    const row = table.querySelector(`tr[data-run="${CSS.escape(event.run_id)}"]`);
    if (row) setStatus(row.querySelector("[data-status]"), event.status);
  },
});
