"""A run's heartbeat while a node executes it, and how that node notices the run was stopped.

The beat is a conditional UPDATE that freshens the run only while it executes; "0 rows" means
it was canceled, failed or ended meanwhile, and `left_active` is set. It beats every
HEARTBEAT_SECONDS, and at once when the run's status changes to one that stops it
(runs.services.run_transition sends a wake-up over Redis pub/sub, mlstudio.wakeups), so a
cancel or a sweep's early termination is noticed within a fraction of a second without a
frequent poll of the database.
"""

from __future__ import annotations

import threading

from django.db import DatabaseError, connection

from mlstudio import wakeups
from runs.execution_services import run_heartbeat
from runs.statuses import stop_wakeup

HEARTBEAT_SECONDS = 5.0


class Heartbeat(threading.Thread):
    """Keeps the run's heartbeat fresh for the whole execution, preparing a large snapshot
    and collecting large outputs included, so the lost-worker sweep never fails a live run.
    Its UPDATE is conditional on the run being active: `left_active` is set once it is not
    (canceled, failed, over), which is how the lifecycle notices a cancel without a poll."""

    def __init__(self, run_id: str):
        super().__init__(name=f"heartbeat-{run_id}", daemon=True)
        self.run_id = run_id
        self.stopping = threading.Event()
        self.left_active = threading.Event()
        self.waiter = wakeups.Waiter(stop_wakeup(run_id))

    def run(self) -> None:
        try:
            # Beating right after subscribing: a stop that came before is seen now.
            self.waiter.subscribe()
            while not self.stopping.is_set():
                self.beat()
                self.waiter.wait(HEARTBEAT_SECONDS)
        finally:
            self.waiter.close()
            connection.close()

    def beat(self) -> None:
        try:
            if not run_heartbeat(run_id=self.run_id):
                self.left_active.set()
        except DatabaseError:  # a blip; the next beat tries again
            connection.close()

    def stop(self) -> None:
        self.stopping.set()
        self.waiter.interrupt()
        if self.is_alive():
            self.join()
