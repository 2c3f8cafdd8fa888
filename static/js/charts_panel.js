// The charts above the runs table: the chosen metrics of the first runs it shows, redrawn
// when filters, search or sort change which runs those are.
import { overlay } from "./compare.js";

export const CHARTED_RUNS = 20;

export function chartsPanel({ box, picker, seriesUrl, plotly }) {
  let drawn = "";
  let timer = null;
  const chosen = () => [...picker.querySelectorAll("input:checked")].map((input) => input.value);
  function draw(runs) {
    const names = chosen();
    const visible = runs.slice(0, CHARTED_RUNS);
    const key = JSON.stringify([names, visible.map((run) => run.id)]);
    if (key === drawn) return;
    drawn = key;
    clearTimeout(timer);
    // Typing in the search box changes the runs at every key: draw once it pauses.
    timer = setTimeout(async () => {
      if (!names.length || !visible.length) { box.replaceChildren(); return; }
      await overlay(await plotly(), box, visible, names, seriesUrl);
    }, 300);
  }
  function choose(names) {
    for (const input of picker.querySelectorAll("input")) input.checked = names.includes(input.value);
  }
  return { draw, chosen, choose };
}
