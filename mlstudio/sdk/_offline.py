"""The run a script gets outside MLStudio: it prints what it would have logged, as azureml's
offline run did, and never fails."""

from __future__ import annotations

import uuid


class OfflineRun:
    def __init__(self, name: str = ""):
        self.id = f"OfflineRun_{uuid.uuid4()}"
        self.number = 0
        self.experiment = None
        self.parent = None
        self.display_name = name or self.id
        self.status = "Running"
        self._tags: dict = {}
        self._properties: dict = {}
        self._children: list[OfflineRun] = []

    def _say(self, kind: str, name, value) -> None:
        print(f"Attempted to log {kind} metric {name}:\n{value}")

    def log(self, name, value, description="", step=None):
        self._say("scalar", name, value)

    def log_list(self, name, value, description=""):
        self._say("list", name, list(value))

    def log_row(self, name, description=None, **kwargs):
        self._say("row", name, kwargs)

    def log_table(self, name, value, description=""):
        self._say("table", name, value)

    def log_image(self, name, path=None, plot=None, description=""):
        self._say("image", name, path if path is not None else plot)

    def log_confusion_matrix(self, name, value, description=""):
        self._say("confusion matrix", name, value)

    def log_accuracy_table(self, name, value, description=""):
        self._say("accuracy table", name, value)

    def log_residuals(self, name, value, description=""):
        self._say("residuals", name, value)

    def log_predictions(self, name, value, description=""):
        self._say("predictions", name, value)

    def tag(self, key, value=None):
        print(f"Attempted to add tag {key} with value {value}")
        self._tags[key] = value

    def set_tags(self, tags):
        for key, value in tags.items():
            self.tag(key, value)

    def remove_tags(self, tags):
        for key in [tags] if isinstance(tags, str) else tags:
            self._tags.pop(key, None)

    def get_tags(self):
        return dict(self._tags)

    def add_properties(self, properties):
        print(f"Attempted to add properties {properties}")
        self._properties.update(properties)

    def get_properties(self):
        return dict(self._properties)

    def upload_file(self, name, path_or_stream):
        print(f"Attempted to track file {name} at {path_or_stream}")

    def upload_folder(self, name, path):
        print(f"Attempted to track folder {name} at {path}")

    def get_metrics(self, name=None, recursive=False):
        return {}

    def flush(self):
        pass

    def child_run(self, name=None, run_id=None, outputs=None):
        child = OfflineRun(name or "")
        child.parent = self
        self._children.append(child)
        return child

    def create_children(self, count=None, tag_key=None, tag_values=None):
        total = len(tag_values) if tag_values is not None else int(count or 0)
        children = [self.child_run() for _ in range(total)]
        if tag_key is not None and tag_values is not None:
            for child, value in zip(children, tag_values, strict=True):
                child.tag(tag_key, value)
        return children

    def get_children(self, recursive=False, **_):
        for child in self._children:
            yield child
            if recursive:
                yield from child.get_children(recursive=True)

    def get_status(self):
        return self.status

    def get_details(self):
        return {"runId": self.id, "status": self.status, "tags": self.get_tags(),
                "properties": self.get_properties(), "offline": True}  # fmt: skip

    def get_detailed_status(self):
        return {"status": self.status, "details": "an offline run: nothing is sent"}

    def wait_for_completion(self, show_output=False, **_):
        return self.get_details()

    def cancel(self):
        self.status = "Canceled"

    def complete(self, _set_status=True):
        self.status = "Completed"

    def fail(self, error_details=None, error_code=None, _set_status=True):
        self.status = "Failed"

    def __enter__(self):
        return self

    def __exit__(self, kind, value, traceback):
        if kind is None:
            self.complete()
        else:
            self.fail()
        return False

    def __repr__(self) -> str:
        return f"Run(Id: {self.id}, offline)"
