// A run's display name or description edited where the runs table shows it, as in Azure ML
// studio's runs list: the pencil opens a field, Enter or leaving it saves, Escape gives up.
// A refused save keeps the field open and says why.
import { api } from "./common.js";

const FIELD_NAMES = { name: "display_name", description: "description" };

export function pencil(field, run) {
  const button = Object.assign(document.createElement("button"), { type: "button", className: "edit", textContent: "✎" });
  button.dataset.edit = field;
  const what = field === "name" ? "the name" : "the description";
  button.title = `Edit ${what} of run ${run.number}`;
  button.setAttribute("aria-label", button.title);
  return button;
}

// Opens the editor in `cell` for `run`; `saved(details)` is told what the studio stored.
export function editInPlace({ cell, run, field, url, saved }) {
  const before = [...cell.childNodes];
  const input = Object.assign(document.createElement("input"), {
    value: field === "name" ? run.displayName ?? "" : run.description ?? "",
    placeholder: field === "name" ? run.id : "a description",
  });
  input.setAttribute("aria-label", `${field === "name" ? "Name" : "Description"} of run ${run.number}`);
  const note = Object.assign(document.createElement("span"), { className: "error" });
  note.setAttribute("role", "alert");
  cell.replaceChildren(input, note);
  input.focus();
  input.select();
  let done = false;
  const close = () => { done = true; cell.replaceChildren(...before); cell.querySelector("button[data-edit]")?.focus(); };
  async function save() {
    if (done) return;
    done = true;
    try {
      const details = await api("PATCH", url, { [FIELD_NAMES[field]]: input.value.trim() });
      cell.replaceChildren(...before);
      saved(details);
    } catch (problem) {
      done = false;
      note.textContent = ` ${problem.message}`;
      input.focus();
    }
  }
  input.addEventListener("keydown", (key) => {
    if (key.key === "Enter") { key.preventDefault(); save(); }
    if (key.key === "Escape") { key.preventDefault(); close(); }
  });
  input.addEventListener("blur", () => { if (!note.textContent) save(); });
}
