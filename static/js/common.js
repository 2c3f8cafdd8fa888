// Shared helpers for the studio's pages: CSRF-protected API calls and resumable live sockets.

export function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

export async function api(method, url, body) {
  const options = { method, headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" } };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(url, options);
  const text = await response.text();
  if (!response.ok) throw failure(response.status, response.statusText, text);
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    throw new Error(`The studio answered ${url} with a page instead of data (HTTP ${response.status}); reload, and sign in again if asked.`);
  }
}

// The error for a refused request: the studio's own message, or, when what answered was not
// the studio (a proxy's 502 or 413 page), the HTTP status.
export function failure(status, statusText, body) {
  try {
    const detail = JSON.parse(body).detail;
    if (detail) return new Error(detail);
  } catch { /* not JSON: not the studio's answer */ }
  const reason = `HTTP ${status}${statusText ? ` ${statusText}` : ""}`;
  if (status === 413) {
    return new Error(`The request was too large for the web server in front of the studio (${reason}); raise its request size limit (nginx: client_max_body_size).`);
  }
  return new Error(`The request failed with ${reason}. Try again; if it persists, the studio or the server in front of it needs a look.`);
}

// A websocket that reconnects after a drop and asks for what follows the offsets it has,
// so nothing is lost or repeated. `offsets()` returns {logName: byteOffset}.
export function liveSocket(path, { offsets = () => ({}), onEvent, onState = () => {} }) {
  let socket = null;
  let closed = false;
  let delay = 500;
  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const query = "?offsets=" + encodeURIComponent(JSON.stringify(offsets()));
    socket = new WebSocket(`${scheme}://${location.host}${path}${query}`);
    socket.onopen = () => { delay = 500; onState("open"); };
    socket.onmessage = (message) => onEvent(JSON.parse(message.data));
    socket.onclose = () => {
      onState("closed");
      if (!closed) setTimeout(connect, delay = Math.min(delay * 2, 10000));
    };
  }
  connect();
  return { close() { closed = true; if (socket) socket.close(); } };
}

// The page's elements by id, under the names a script gives them:
// elements({ form: "submit-form" }).form is the element whose id is "submit-form".
export function elements(ids) {
  return Object.fromEntries(Object.entries(ids).map(([name, id]) => [name, document.getElementById(id)]));
}

export function setStatus(element, status) {
  element.textContent = status;
  element.className = `status status-${status}`;
}

export const FINAL = new Set(["Completed", "Failed", "Canceled"]);

// A script loaded once, on first need: plotly.js weighs 4.8 MB, so only a page that draws a
// chart loads it, and only when it draws one.
const loading = new Map();
export function loadScript(src) {
  if (!loading.has(src)) {
    loading.set(src, new Promise((resolve, reject) => {
      const script = Object.assign(document.createElement("script"), { src });
      script.onload = resolve;
      script.onerror = () => {
        loading.delete(src);
        reject(new Error("A part of the page did not load (the chart library); reload to try again."));
      };
      document.head.append(script);
    }));
  }
  return loading.get(src);
}
