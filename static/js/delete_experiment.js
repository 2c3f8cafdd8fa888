import { api } from "./common.js";

// The dialog of templates/runs/_delete_experiment.html. Delete stays disabled until the
// experiment's name is typed exactly, so a stray click or Enter deletes nothing. Resolves
// true once the studio has deleted it, false when the user backs out.
export function confirmDelete({ url, name }) {
  const dialog = document.getElementById("delete-experiment");
  const input = dialog.querySelector("input");
  const confirm = dialog.querySelector("button[data-confirm]");
  const error = dialog.querySelector("[data-error]");
  for (const slot of dialog.querySelectorAll("[data-name]")) slot.textContent = name;
  input.value = "";
  confirm.disabled = true;
  error.hidden = true;
  return new Promise((resolve) => {
    let deleted = false;
    input.oninput = () => { confirm.disabled = input.value !== name; };
    dialog.querySelector("button[data-cancel]").onclick = () => dialog.close();
    dialog.onclose = () => resolve(deleted);
    dialog.querySelector("form").onsubmit = async (submit) => {
      submit.preventDefault();
      if (input.value !== name) return;
      confirm.disabled = true;
      error.hidden = true;
      try {
        await api("DELETE", url);
        deleted = true;
        dialog.close();
      } catch (problem) {
        error.textContent = problem.message;
        error.hidden = false;
        confirm.disabled = input.value !== name;
      }
    };
    dialog.showModal();
    input.focus();
  });
}
