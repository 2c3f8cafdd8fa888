"""The metric side of an execution: a thread that tails the SDK's transport files and the
TensorBoard event files under ./logs while the run goes on, stores the records in bulk and
pushes them to the run's channel group (batched: at most about 20 messages a second); and
the run tree's ingestor, which sorts a submitted run's records between it and its children."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import close_old_connections, connection

from mlstudio import live
from runs import store
from runs.metrics import Ingestor, IngestReport
from runs.models import Run
from runs.services import run_complete, run_create_child
from runs.tbevents import TensorBoardImporter
from runs.transport import TransportReader

METRICS_SECONDS = 0.05  # at most 20 metric messages a second per run reach browsers
IDLE_METRICS_SECONDS = 0.25  # the longest wait between looks while no metric comes
CONTAINER_COPY_SECONDS = 1.0  # how often a remote engine's container is copied from
TENSORBOARD_SECONDS = 0.25  # how often ./logs is read for new TensorBoard events


class MetricPump(threading.Thread):
    """Tails the SDK's metric files while the run goes on and stores the records in bulk,
    on its own thread so a burst of metrics never delays the live log. `copy_out` brings
    folders back from a container that can't share the working folder."""

    def __init__(self, run: Run, workdir: Path, *, say: Callable[[str], None],
                 copy_out: Callable[..., None]):  # fmt: skip
        super().__init__(name=f"metrics-{run.pk}", daemon=True)
        self.run_id = run.pk
        self.say = say
        self.copy_out = copy_out
        self.reader = TransportReader(
            workdir / ".mlstudio", max_line=settings.MLSTUDIO_METRIC_VALUE_MAX_BYTES + 4096
        )
        self.ingestor = RunTreeIngestor(run, staging=workdir / ".mlstudio" / "uploads")
        self.tensorboard = TensorBoardImporter(workdir / "logs", note=say)
        self.tensorboard_due = 0.0
        self.copy_due = 0.0
        self.stopping = threading.Event()
        self.stored = 0
        self.skipped = 0

    def run(self) -> None:
        wait = METRICS_SECONDS
        try:
            while not self.stopping.wait(wait):
                before = self.stored + self.skipped
                self.pump_once(final=False)
                # While nothing comes, look less often: a quiet run's poll costs CPU that the
                # busy ones streaming logs need.
                idle = self.stored + self.skipped == before
                wait = min(IDLE_METRICS_SECONDS, wait * 2) if idle else METRICS_SECONDS
        finally:
            connection.close()

    def finish(self) -> None:
        """Stop tailing, store what is left (a line cut by a crash is counted, not stored)."""
        self.stopping.set()
        self.join()
        self.copy_out(".mlstudio", "outputs", "logs")
        self.pump_once(final=True)
        if self.stored or self.skipped or self.reader.malformed:
            self.say(
                f"Metrics: {self.stored} stored, {self.skipped} refused, "
                f"{self.reader.malformed} malformed record(s) skipped"
            )

    def pump_once(self, *, final: bool) -> None:
        if not final and time.monotonic() >= self.copy_due:
            self.copy_due = time.monotonic() + CONTAINER_COPY_SECONDS
            self.copy_out(".mlstudio", "logs")
        if final or time.monotonic() >= self.tensorboard_due:
            self.tensorboard_due = time.monotonic() + TENSORBOARD_SECONDS
            self.import_tensorboard(final=final)
        while records := self.reader.read(final=final):
            try:
                tree = self.ingestor.ingest(records)
            except Exception as exc:  # one bad batch must not stop the metrics of the run
                self.skipped += len(records)
                self.say(f"{len(records)} metric record(s) could not be stored: "
                         f"{type(exc).__name__}: {exc}")  # fmt: skip
                close_old_connections()
                continue
            self.publish(tree)
            if not final:
                return

    def publish(self, tree: TreeReport) -> None:
        problems = tree.problems + [p for r in tree.reports.values() for p in r.skipped]
        self.stored += sum(r.stored for r in tree.reports.values())
        self.skipped += len(problems)
        for problem in problems[:5]:
            self.say(f"Metric record refused: {problem}")
        for run_id, report in tree.reports.items():
            if report.live:
                live.publish(live.run_group(run_id), live.metric_event(run_id, report.live))
        for run_id, name, size in tree.files:
            live.publish(live.run_group(run_id), live.file_event(name, size))

    def import_tensorboard(self, *, final: bool) -> None:
        """Scalars the script wrote to TensorBoard event files under ./logs become metrics of
        the run, marked as coming from TensorBoard."""
        try:
            records = self.tensorboard.read(final=final)
            if not records:
                return
            report = self.ingestor.ingestors[self.run_id].ingest(records, source="tensorboard")
        except Exception as exc:  # never let TensorBoard files stop the run's own metrics
            self.say(f"TensorBoard: events could not be stored: {type(exc).__name__}: {exc}")
            close_old_connections()
            return
        self.stored += report.stored
        self.skipped += len(report.skipped)
        for problem in report.skipped[:5]:
            self.say(f"TensorBoard: {problem}")
        if report.live:
            live.publish(live.run_group(self.run_id), live.metric_event(self.run_id, report.live))


@dataclass
class TreeReport:
    reports: dict[str, IngestReport] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    files: list[tuple[str, str, int]] = field(default_factory=list)


class RunTreeIngestor:
    """Records from a submitted run's transport files. A record with "r" belongs to a child
    run; operations create children ("child"), finish them ("status") and move files the
    script uploaded into the run's files ("file", staged under `staging`)."""

    def __init__(self, root: Run, *, staging: Path):
        self.root = root
        self.staging = staging
        self.ingestors = {root.pk: Ingestor(root)}
        for child in root.children.all():
            self.ingestors[child.pk] = Ingestor(child)

    def ingest(self, records: list) -> TreeReport:
        tree = TreeReport()
        per_run: dict[str, list] = defaultdict(list)
        later: list[tuple[str, dict]] = []
        for record in records:
            if type(record) is not dict:
                tree.problems.append(f"not an object: {str(record)[:80]}")
                continue
            run_id = record.pop("r", None) or self.root.pk
            op = record.get("op")
            if op == "child":
                self._create_child(record, tree)
            elif op in ("status", "file"):
                later.append((run_id, record))
            else:
                per_run[run_id].append(record)
        for run_id, batch in per_run.items():
            ingestor = self.ingestors.get(run_id)
            if ingestor is None:
                tree.problems.append(f"{len(batch)} record(s) for unknown run {run_id!r}")
                continue
            tree.reports[run_id] = ingestor.ingest(batch)
        for run_id, record in later:
            self._operate(run_id, record, tree)
        return tree

    def _create_child(self, record: dict, tree: TreeReport) -> None:
        try:
            child = run_create_child(parent=self.root, run_id=record.get("id"),
                                     name=record.get("name", ""))  # fmt: skip
        except Exception as exc:  # reported in the system log
            tree.problems.append(f"child run {record.get('id')!r}: {exc}")
            return
        self.ingestors[child.pk] = Ingestor(child)

    def _operate(self, run_id: str, record: dict, tree: TreeReport) -> None:
        ingestor = self.ingestors.get(run_id)
        if ingestor is None:
            tree.problems.append(f"{record['op']} for unknown run {run_id!r}")
        elif record["op"] == "file":
            self._move_file(ingestor.run, record, tree)
        elif run_id != self.root.pk:
            run_complete(run=ingestor.run, failed=record.get("status") == "Failed",
                         error=str(record.get("error") or ""))  # fmt: skip

    def _move_file(self, run: Run, record: dict, tree: TreeReport) -> None:
        staged = str(record.get("staged", ""))
        source = self.staging / staged
        try:
            if not staged.isalnum() or not source.is_file():
                raise ValueError("the staged copy is missing")
            target = store.user_file(run.pk, str(record.get("name", "")))
            target.parent.mkdir(parents=True, exist_ok=True)
            size = source.stat().st_size
            source.replace(target)
        except Exception as exc:  # a bad upload must not stop the others
            tree.problems.append(f"file {record.get('name')!r}: {getattr(exc, 'message', exc)}")
            return
        tree.files.append((run.pk, target.relative_to(store.run_dir(run.pk)).as_posix(), size))
