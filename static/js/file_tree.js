// The run's files as a tree of folders, each a <details> that Enter, Space or the arrow keys
// open and close; a log opens in the page's viewer (`openLog`), any other file downloads.
const LOG_FILE = /^(user_logs|system_logs)\/[\w.-]+\.txt$/;

function sizeText(bytes) {
  const units = ["bytes", "KB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  for (; value >= 1024 && unit < units.length - 1; unit++) value /= 1024;
  return unit ? `${value.toFixed(1)} ${units[unit]}` : `${value} bytes`;
}

// Folders before files, each in name order. The search starts from the end: the server lists
// files in path order, so most of them go last and a large tree builds in linear time.
function placeSorted(list, item) {
  let next = null;
  for (let other = list.lastElementChild; other && other.dataset.order > item.dataset.order; other = other.previousElementSibling) next = other;
  list.insertBefore(item, next);
}

// `root` is the list the server filled flat (what a page without scripts shows); files are
// added, or their sizes changed, with the returned addFile({name, size}).
export function fileTree({ root, api, openLog }) {
  const folders = new Map([["", root]]);  // folder path -> the list of what it holds
  const fileSizes = new Map();  // file name -> the element that shows its size

  function folderList(path) {
    if (folders.has(path)) return folders.get(path);
    const cut = path.lastIndexOf("/");
    const parent = folderList(cut < 0 ? "" : path.slice(0, cut));
    const details = document.createElement("details");
    details.dataset.folder = path;
    details.open = cut < 0;  // top-level folders start open, deeper ones closed
    const summary = document.createElement("summary");
    summary.textContent = path.slice(cut + 1);
    const list = document.createElement("ul");
    details.append(summary, list);
    const item = document.createElement("li");
    item.dataset.order = `0${summary.textContent}`;
    item.append(details);
    placeSorted(parent, item);
    folders.set(path, list);
    return list;
  }

  function addFile({ name, size }) {
    if (fileSizes.has(name)) {
      fileSizes.get(name).textContent = sizeText(size);
      fileSizes.get(name).previousElementSibling.dataset.size = size;
      return;
    }
    root.querySelector(":scope > li[data-empty]")?.remove();
    const cut = name.lastIndexOf("/");
    const link = document.createElement("a");
    link.href = `${api}/files/${name.split("/").map(encodeURIComponent).join("/")}`;
    link.textContent = name.slice(cut + 1);
    Object.assign(link.dataset, { file: name, size });
    if (LOG_FILE.test(name)) link.dataset.log = "";
    const sizeNote = document.createElement("small");
    sizeNote.textContent = sizeText(size);
    fileSizes.set(name, sizeNote);
    const item = document.createElement("li");
    item.dataset.order = `1${link.textContent}`;
    item.append(link, " ", sizeNote);
    placeSorted(folderList(cut < 0 ? "" : name.slice(0, cut)), item);
  }

  root.addEventListener("click", (click) => {
    const link = click.target.closest("a[data-log]");
    if (!link || click.ctrlKey || click.metaKey || click.shiftKey) return;  // those download it
    click.preventDefault();
    openLog(link.dataset.file, Number(link.dataset.size));
  });
  root.addEventListener("keydown", (key) => {
    const folder = key.target.closest("summary")?.parentElement;
    const open = { ArrowRight: true, ArrowLeft: false }[key.key];
    if (folder && open !== undefined) { folder.open = open; key.preventDefault(); }
  });
  const listed = [...root.querySelectorAll("a[data-file]")];
  if (listed.length) {
    root.replaceChildren();
    for (const link of listed) addFile({ name: link.dataset.file, size: Number(link.dataset.size) });
  }
  return addFile;
}
