"""The metric side of an execution: a thread that tails the SDK's transport files and the
TensorBoard event files under ./logs while the run goes on, stores the records in bulk and
pushes them to the run's channel group (batched: at most about 20 messages a second)."""

from __future__ import annotations

import threading
import time

from django.conf import settings
from django.db import close_old_connections, connection

from mlstudio import live
from runs.metrics import RunTreeIngestor
from runs.tbevents import TensorBoardImporter
from runs.transport import TransportReader

METRICS_SECONDS = 0.05  # at most 20 metric messages a second per run reach browsers
CONTAINER_COPY_SECONDS = 1.0  # how often a remote engine's container is copied from
TENSORBOARD_SECONDS = 0.25  # how often ./logs is read for new TensorBoard events


class MetricPump(threading.Thread):
    """Tails the SDK's metric files while the run goes on and stores the records in bulk,
    on its own thread so a burst of metrics never delays the live log."""

    def __init__(self, execution):
        super().__init__(name=f"metrics-{execution.run.pk}", daemon=True)
        self.execution = execution
        self.reader = TransportReader(
            execution.workdir / ".mlstudio",
            max_line=settings.MLSTUDIO_METRIC_VALUE_MAX_BYTES + 4096,
        )
        self.ingestor = RunTreeIngestor(
            execution.run, staging=execution.workdir / ".mlstudio" / "uploads"
        )
        self.tensorboard = TensorBoardImporter(execution.workdir / "logs", note=execution.say)
        self.tensorboard_due = 0.0
        self.copy_due = 0.0
        self.stopping = threading.Event()
        self.stored = 0
        self.skipped = 0

    def run(self) -> None:
        try:
            while not self.stopping.wait(METRICS_SECONDS):
                self.pump_once(final=False)
        finally:
            connection.close()

    def finish(self) -> None:
        """Stop tailing, store what is left (a line cut by a crash is counted, not stored)."""
        self.stopping.set()
        self.join()
        self.execution.copy_from_container(".mlstudio", "outputs", "logs")
        self.pump_once(final=True)
        if self.stored or self.skipped or self.reader.malformed:
            self.execution.say(
                f"Metrics: {self.stored} stored, {self.skipped} refused, "
                f"{self.reader.malformed} malformed record(s) skipped"
            )

    def pump_once(self, *, final: bool) -> None:
        if not final and time.monotonic() >= self.copy_due:
            self.copy_due = time.monotonic() + CONTAINER_COPY_SECONDS
            self.execution.copy_from_container(".mlstudio", "logs")
        if final or time.monotonic() >= self.tensorboard_due:
            self.tensorboard_due = time.monotonic() + TENSORBOARD_SECONDS
            self.import_tensorboard(final=final)
        while records := self.reader.read(final=final):
            try:
                tree = self.ingestor.ingest(records)
            except Exception as exc:  # one bad batch must not stop the metrics of the run
                self.skipped += len(records)
                self.execution.say(
                    f"{len(records)} metric record(s) could not be stored: "
                    f"{type(exc).__name__}: {exc}"
                )
                close_old_connections()
                continue
            problems = tree.problems + [p for r in tree.reports.values() for p in r.skipped]
            self.stored += sum(r.stored for r in tree.reports.values())
            self.skipped += len(problems)
            for problem in problems[:5]:
                self.execution.say(f"Metric record refused: {problem}")
            for run_id, report in tree.reports.items():
                if report.live:
                    event = {"kind": "metric", "run_id": run_id, "metrics": report.live}
                    live.publish(live.run_group(run_id), event)
            for run_id, name, size in tree.files:
                event = {"kind": "file", "name": name, "size": size}
                live.publish(live.run_group(run_id), event)
            if not final:
                return

    def import_tensorboard(self, *, final: bool) -> None:
        """Scalars the script wrote to TensorBoard event files under ./logs become metrics of
        the run, marked as coming from TensorBoard."""
        try:
            records = self.tensorboard.read(final=final)
            if not records:
                return
            report = self.ingestor.ingestors[self.execution.run.pk].ingest(
                records, source="tensorboard"
            )
        except Exception as exc:  # never let TensorBoard files stop the run's own metrics
            self.execution.say(
                f"TensorBoard: events could not be stored: {type(exc).__name__}: {exc}"
            )
            close_old_connections()
            return
        self.stored += report.stored
        self.skipped += len(report.skipped)
        for problem in report.skipped[:5]:
            self.execution.say(f"TensorBoard: {problem}")
        if report.live:
            event = {"kind": "metric", "run_id": self.execution.run.pk, "metrics": report.live}
            live.publish(self.execution.group, event)
