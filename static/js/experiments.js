import { api } from "./common.js";

const table = document.getElementById("experiments");
const error = document.getElementById("experiments-error");

table.addEventListener("click", async (click) => {
  const button = click.target.closest("button[data-action]");
  if (!button) return;
  const row = button.closest("tr");
  const action = button.dataset.action;
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
  } catch (problem) {
    error.textContent = problem.message;
    error.hidden = false;
  } finally {
    button.disabled = false;
  }
});
