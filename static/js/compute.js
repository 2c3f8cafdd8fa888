// The compute page: target counts and the node table follow the API every 2 s; the register
// form shows the fields of the chosen target type.
import { api } from "./common.js";

const POLL_MS = 2000;
const targets = document.getElementById("targets");
const nodes = document.getElementById("nodes");
const problem = document.getElementById("compute-error");

function cell(text, className) {
  const td = document.createElement("td");
  if (className) {
    const span = document.createElement("span");
    span.className = className;
    span.textContent = text;
    td.append(span);
  } else {
    td.textContent = text;
  }
  return td;
}

function ago(iso) {
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (seconds < 90) return `${seconds} s ago`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
  return new Date(iso).toLocaleString();
}

function showTargets(list) {
  for (const target of list) {
    const row = targets.querySelector(`tr[data-target="${CSS.escape(target.name)}"]`);
    if (!row) continue; // registered elsewhere since this page loaded: shown after a reload
    const status = target.status;
    const values = {
      ...status.node_state_counts,
      current_node_count: status.current_node_count,
      nodes_online: status.nodes_online,
      provisioning_state: status.provisioning_state,
      errors: status.errors.join(" "),
      hints: status.hints.join(" "),
    };
    for (const field of row.querySelectorAll("[data-field]")) {
      field.textContent = values[field.dataset.field] ?? "";
    }
  }
}

function showNodes(list) {
  const body = nodes.tBodies[0];
  const rows = list.map((node) => {
    const tr = document.createElement("tr");
    const state = cell(node.state, `status node-${node.state}`);
    if (node.problem) {
      const note = document.createElement("small");
      note.className = "error";
      note.textContent = ` ${node.problem}`;
      state.append(note);
    }
    const heartbeat = document.createElement("time");
    heartbeat.dateTime = node.heartbeat_at;
    heartbeat.textContent = ago(node.heartbeat_at);
    const last = cell("");
    last.append(heartbeat);
    tr.append(
      cell(node.name), cell(node.target), cell(node.hostname), state, cell(node.slots),
      cell(node.busy_slots), cell(node.cpu_count), cell(node.gpu_count), cell(node.version), last,
    );
    return tr;
  });
  if (!rows.length) {
    const tr = document.createElement("tr");
    const td = cell("No worker node has registered yet.");
    td.colSpan = 10;
    tr.append(td);
    rows.push(tr);
  }
  body.replaceChildren(...rows);
}

async function refresh() {
  try {
    const [targetList, nodeList] = await Promise.all([
      api("GET", targets.dataset.api),
      api("GET", nodes.dataset.api),
    ]);
    showTargets(targetList);
    showNodes(nodeList);
    problem.hidden = true;
  } catch (error) {
    problem.textContent = `Could not refresh: ${error.message}`;
    problem.hidden = false;
  }
  setTimeout(refresh, POLL_MS);
}
setTimeout(refresh, POLL_MS);

const form = document.getElementById("register");
if (form) {
  const type = form.querySelector("[name=type]");
  // The other type's fields are disabled too, so their values are neither checked nor sent;
  // `display` is set because the fieldsets' grid layout would override the hidden attribute.
  const showFieldsOf = () => {
    for (const fieldset of form.querySelectorAll("fieldset[data-for]")) {
      const other = fieldset.dataset.for !== type.value;
      fieldset.hidden = other;
      fieldset.disabled = other;
      fieldset.style.display = other ? "none" : "";
    }
  };
  type.addEventListener("change", showFieldsOf);
  showFieldsOf();
}
