import { api } from "./common.js";
import { confirmDelete } from "./delete_experiment.js";

const table = document.getElementById("experiments");
const error = document.getElementById("experiments-error");

// Owners may delete archived experiments, so the Delete button follows the row's state.
function offerDelete(row, archived) {
  const button = row.querySelector("button[data-action=delete]");
  if (!("canDelete" in table.dataset) || archived === Boolean(button)) return;
  if (button) {
    button.remove();
    return;
  }
  const added = document.createElement("button");
  added.type = "button";
  added.dataset.action = "delete";
  added.textContent = "Delete";
  row.querySelector("[data-actions]").append(" ", added);
}

table.addEventListener("click", async (click) => {
  const button = click.target.closest("button[data-action]");
  if (!button) return;
  const row = button.closest("tr");
  const action = button.dataset.action;
  if (action === "delete") {
    const url = `${table.dataset.api}/${row.dataset.id}`;
    if (await confirmDelete({ url, name: row.dataset.name })) row.remove();
    return;
  }
  const question = action === "archive"
    ? `Archive experiment "${row.dataset.name}"? It is hidden from lists; nothing is deleted.`
    : `Reactivate experiment "${row.dataset.name}"?`;
  if (!window.confirm(question)) return;
  button.disabled = true;
  error.hidden = true;
  try {
    const experiment = await api("POST", `${table.dataset.api}/${row.dataset.id}/${action}`);
    const view = table.dataset.view;
    if ((view === "active" && experiment.status === "Archived") ||
        (view === "archived" && experiment.status === "Active")) {
      row.remove();
      return;
    }
    row.querySelector("[data-state]").textContent = experiment.status;
    button.dataset.action = action === "archive" ? "reactivate" : "archive";
    button.textContent = action === "archive" ? "Reactivate" : "Archive";
    offerDelete(row, experiment.status === "Archived");
  } catch (problem) {
    error.textContent = problem.message;
    error.hidden = false;
  } finally {
    button.disabled = false;
  }
});
