"""A websocket follower of a run's log, as the run page is: it reconnects after the web
server goes away and resumes from the offset it has, so it should see every byte once."""

from __future__ import annotations

import asyncio
import json
import threading
from urllib.parse import quote

import websockets

LOG = "user_logs/std_log.txt"
FINAL = ("Completed", "Failed", "Canceled")


class Follower(threading.Thread):
    def __init__(self, studio, run_id: str):
        super().__init__(daemon=True, name="ws-follower")
        self.url = f"ws://127.0.0.1:{studio.port}/ws/runs/{run_id}/"
        self.headers = {"Authorization": f"Bearer {studio.token}"}
        self.text = ""
        self.reconnects = 0
        self.status = None
        self.problems: list[str] = []

    def run(self) -> None:
        asyncio.run(self.follow())

    @property
    def ended(self) -> bool:
        return self.status in FINAL

    async def follow(self) -> None:
        """Until the run has ended and nothing more arrives for a moment (the store's catch-up
        follows the status event)."""
        while True:
            offsets = quote(json.dumps({LOG: len(self.text.encode())}))
            try:
                async with websockets.connect(self.url + f"?offsets={offsets}",
                                              additional_headers=self.headers) as sock:  # fmt: skip
                    while True:
                        raw = await asyncio.wait_for(sock.recv(), 2 if self.ended else 60)
                        self.take(json.loads(raw))
            except TimeoutError:
                return
            except (OSError, websockets.WebSocketException):
                await asyncio.sleep(0.2)
            self.reconnects += 1

    def take(self, event: dict) -> None:
        if event["kind"] == "status":
            self.status = event["status"]
        elif event["kind"] == "log" and event["name"] == LOG:
            have = len(self.text.encode())
            if event["offset"] != have:
                self.problems.append(f"offset {event['offset']} after {have} bytes")
            self.text += event["data"]
