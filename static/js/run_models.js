// The run page's model registry parts: the models registered from this run (Overview), and a
// Register model button on every file and folder of the Outputs tab, for contributors.
// (The registry sits above runs, so the run page's view cannot list them itself.)
const models = document.getElementById("run-models");
fetch(models.dataset.src, { headers: { Accept: "text/html" } })
  .then((answer) => (answer.ok ? answer.text() : ""))
  .then((html) => { if (html) models.innerHTML = html; });

const dialog = document.getElementById("register-model");
const tree = document.getElementById("files");

function suggestedName(path) {
  const last = path.replace(/\/$/, "").split("/").pop();
  const stem = last.includes(".") && !path.endsWith("/") ? last.slice(0, last.lastIndexOf(".")) : last;
  return stem.replace(/[^A-Za-z0-9._-]/g, "-").replace(/^[^A-Za-z0-9]+/, "") || "model";
}

function open(path) {
  dialog.querySelector("[name=model_path]").value = path;
  dialog.querySelector("[name=model_name]").value = suggestedName(path);
  dialog.showModal();
  dialog.querySelector("[name=model_name]").select();
}

function button(path) {
  const register = document.createElement("button");
  register.type = "button";
  register.className = "small";
  register.textContent = "Register model";
  register.dataset.registerPath = path;
  register.setAttribute("aria-label", `Register ${path} as a model`);
  return register;
}

// Files arrive while the run goes on, so new items get their button as they appear.
function addButtons() {
  for (const link of tree.querySelectorAll("a[data-file]:not([data-registrable])")) {
    link.dataset.registrable = "";
    link.parentElement.append(" ", button(link.dataset.file));
  }
  // A folder's button sits beside its <details>, not in its summary, so the summary stays the
  // folder's name and its keys keep opening and closing the folder.
  for (const details of tree.querySelectorAll("details[data-folder]:not([data-registrable])")) {
    details.dataset.registrable = "";
    details.parentElement.append(button(`${details.dataset.folder}/`));
  }
}

if (dialog && tree) {
  tree.addEventListener("click", (click) => {
    const target = click.target.closest("button[data-register-path]");
    if (!target) return;
    open(target.dataset.registerPath);
  });
  new MutationObserver(addButtons).observe(tree, { childList: true, subtree: true });
  addButtons();
}
