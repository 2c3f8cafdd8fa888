"""azureml.widgets.RunDetails: a live view of a run inside Jupyter.

    from mlstudio.sdk.widgets import RunDetails
    RunDetails(run).show()

show() returns at once; a background thread asks the studio for the run's status, the tail
of its log, its metrics and (for a sweep) its child runs every POLL_SECONDS, and redraws
when something changed, until the run ends. It draws into an ipywidgets.HTML when
ipywidgets is installed, else into an IPython display that it updates in place; outside
IPython it prints status changes. Only the standard library is needed to import it.
"""

from __future__ import annotations

import threading

from mlstudio.sdk._surface import V1Surface
from mlstudio.sdk._widget_html import render
from mlstudio.sdk.run import FINAL_STATUSES, USER_LOG

POLL_SECONDS = 0.25
LOG_TAIL_CHARS = 8000


class RunDetails(V1Surface):
    def __init__(self, run_instance):
        self.run = run_instance
        self.state: dict = {"status": "", "log": "", "metrics": {}, "children": []}
        self.updates = 0  # how many times the view was redrawn
        self._offset = 0
        self._draw = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def show(self) -> None:
        """Display the view and keep it live in the background until the run ends."""
        self._draw = _drawer()
        self.refresh()
        if self._thread is None and self.state["status"] not in FINAL_STATUSES:
            self._thread = threading.Thread(target=self._follow, daemon=True, name="RunDetails")
            self._thread.start()

    def get_widget_data(self, widget_settings=None) -> dict:
        return dict(self.state)

    def stop(self) -> None:
        self._stop.set()

    def wait(self, timeout: float | None = None) -> None:
        """Block until the view has stopped following (the run ended); for scripts."""
        if self._thread is not None:
            self._thread.join(timeout)

    def refresh(self) -> bool:
        """Read what changed and redraw; True when something did."""
        details = self.run.get_details()
        text, self._offset, _ = self.run._read_log(USER_LOG, self._offset)
        children, best = self._children()
        state = {
            "status": details["status"],
            "details": details,
            "log": (self.state["log"] + text)[-LOG_TAIL_CHARS:],
            "metrics": self.run.get_metrics(),
            "children": children,
            "best": best,
        }
        keys = ("status", "log", "metrics", "children", "best")
        changed = {k: state[k] for k in keys} != {k: self.state.get(k) for k in keys}
        self.state = state
        if changed or not self.updates:
            self.updates += 1
            self._draw(self)
        return changed

    def _children(self) -> tuple[list[dict], dict | None]:
        """The child runs, and for a sweep its best child so far. A sweep's trials come in one
        request (its summary: hyperparameters and best primary metric), not one per child."""
        summary = getattr(self.run, "_sweep", None)
        if summary is not None:
            return _trials(summary())
        children = self.run.get_children()
        return [
            {"id": child.id, "status": (child._details or {}).get("status"),
             "tags": (child._details or {}).get("tags") or {}, "metrics": child.get_metrics()}
            for child in children
        ], None  # fmt: skip

    def _follow(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            try:
                self.refresh()
            except Exception as exc:  # the studio restarting must not kill the view
                self.state["error"] = f"{type(exc).__name__}: {exc}"
                continue
            if self.state["status"] in FINAL_STATUSES:
                self.refresh()  # what the run stored while it finished
                return

    def __repr__(self) -> str:
        return f"RunDetails(run={self.run.id!r}, status={self.state['status']!r})"


def _trials(summary: dict) -> tuple[list[dict], dict | None]:
    metric = summary["primary_metric_name"]
    children = [
        {"id": t["run_id"], "status": t["status"], "tags": t["hyperparameters"],
         "metrics": {} if t["best_primary_metric"] is None else {metric: t["best_primary_metric"]}}
        for t in summary["trials"]
    ]  # fmt: skip
    best_id = summary.get("best_run_id")
    values = {t["run_id"]: t["best_primary_metric"] for t in summary["trials"]}
    if best_id is None or values.get(best_id) is None:
        return children, None
    return children, {"run_id": best_id, "metric": metric, "value": values[best_id]}


def _drawer():
    """How this process shows HTML: ipywidgets, an IPython display, or plain prints."""
    try:
        from IPython import get_ipython
        from IPython.display import HTML, display
    except ImportError:
        return _printer()
    if get_ipython() is None:
        return _printer()
    try:
        import ipywidgets
    except ImportError:
        handle = display(HTML("<div>RunDetails: loading…</div>"), display_id=True)
        return lambda view: handle.update(HTML(render(view.state)))
    widget = ipywidgets.HTML(value="<div>RunDetails: loading…</div>")
    display(widget)

    def draw(view) -> None:
        widget.value = render(view.state)

    return draw


def _printer():
    shown = {"status": None}

    def draw(view) -> None:
        if view.state["status"] != shown["status"]:
            shown["status"] = view.state["status"]
            print(f"RunDetails {view.run.id}: {shown['status']}")

    return draw


__all__ = ["RunDetails"]
