import { api } from "./common.js";

// Child runs under their parent in the runs table, as Azure ML studio shows them: a row with
// children has a toggle, and its children are fetched the first time it opens, so a sweep of
// a thousand trials costs the table nothing until then. Children stay in their own order
// under their parent whatever the table is sorted by; filters apply to top-level runs.
export function childRuns({ url, adopt }) {
  const loaded = new Map();  // parent id -> its child runs, in their order
  const open = new Set();

  async function load(parentId) {
    loaded.set(parentId, adopt(await api("GET", url(parentId)), parentId));
  }

  return {
    isOpen: (id) => open.has(id),
    async toggle(id) {
      if (open.delete(id)) return;
      if (!loaded.has(id)) await load(id);
      open.add(id);
    },
    // A child this page has not seen was added: fetch the list again if it was fetched.
    async reload(id) {
      if (loaded.has(id)) await load(id);
    },
    // The runs to lay out: each one followed, depth first, by the children of the open ones.
    expand(runs) {
      const out = [];
      const visit = (run, depth) => {
        out.push([run, depth]);
        if (open.has(run.id)) for (const child of loaded.get(run.id) || []) visit(child, depth + 1);
      };
      for (const run of runs) visit(run, 0);
      return out;
    },
  };
}
