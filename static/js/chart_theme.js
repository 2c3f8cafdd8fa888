// Charts in the page's own colours, light or dark as the system asks (prefers-color-scheme):
// the colours are read from the stylesheet's variables, so a chart and the card around it
// always match, and every chart on the page is recoloured when the system switches.
const scheme = matchMedia("(prefers-color-scheme: dark)");

function colours() {
  const style = getComputedStyle(document.documentElement);
  const read = (name) => style.getPropertyValue(name).trim();
  return { fg: read("--fg"), bg: read("--card"), line: read("--line"), muted: read("--muted") };
}

// The same colours as a flat update, which Plotly.relayout takes.
function update() {
  const c = colours();
  const flat = {
    paper_bgcolor: c.bg, plot_bgcolor: c.bg, "font.color": c.fg,
    "modebar.bgcolor": "rgba(0,0,0,0)", "modebar.color": c.muted, "modebar.activecolor": c.fg,
  };
  for (const axis of ["xaxis", "yaxis"]) {
    Object.assign(flat, { [`${axis}.gridcolor`]: c.line, [`${axis}.zerolinecolor`]: c.line, [`${axis}.linecolor`]: c.line });
  }
  return flat;
}

// `layout` with the page's colours; what it sets itself wins.
export function themed(layout = {}) {
  const merged = { ...layout };
  for (const [key, value] of Object.entries(update())) {
    const [outer, inner] = key.split(".");
    if (!inner) merged[outer] ??= value;
    else merged[outer] = { [inner]: value, ...merged[outer] };
  }
  return merged;
}

scheme.addEventListener("change", () => {
  if (!window.Plotly) return;
  for (const div of document.querySelectorAll(".js-plotly-plot")) window.Plotly.relayout(div, update());
});
