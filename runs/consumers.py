"""`/ws/runs/<run id>/`: a run's status, log and file events, resumable from per-log offsets.

A client connects with `?offsets={"user_logs/std_log.txt": 1234}` (URL-encoded JSON) and gets
exactly the bytes after each offset, then the live ones: no gap, no duplicate, in order. It
also gets a file event for every file the run has when it connects. The
store is the truth: live messages only say what was appended where, and any gap between what
the client has and a live message is filled from the store.
"""

from __future__ import annotations

import asyncio
import json
from urllib.parse import parse_qs

from channels.db import database_sync_to_async

from mlstudio import live
from runs import selectors, store
from workspaces.consumers import MemberConsumer


class RunConsumer(MemberConsumer):
    def authorise(self) -> str:
        self.run = selectors.run_get_visible(
            user=self.scope["user"],
            run_id=self.scope["url_route"]["kwargs"]["run_id"],
            token=self.scope.get("api_token"),
        )
        self.positions = _offsets(self.scope.get("query_string", b""))
        return live.run_group(self.run.pk)

    async def connect(self):
        await super().connect()
        if not getattr(self, "group", None):
            return
        # Read the status only now that the group is joined: a transition made meanwhile is
        # either in this read or in an event that follows (the client drops older `seq`s).
        await database_sync_to_async(self.run.refresh_from_db)(
            fields=["status", "status_detail", "status_history"]
        )
        await self.send_json(status_event(self.run))
        # The run's files are read in a thread of their own, not in the one thread every
        # consumer's database calls share (100 watchers connecting at once queued there).
        files = await asyncio.to_thread(store.list_files, self.run.pk)
        names = store.logs_among(files)
        for name in sorted(set(names) | set(self.positions)):
            await self.catch_up(name, names.get(name, 0))
        # Files have no offsets to resume from: the client hears of every file there was, so
        # one written while it was connecting (its event sent to nobody) is not missed.
        for found in files:
            await self.send_json(live.file_event(found["name"], found["size"]))

    async def catch_up(self, name: str, until: int) -> None:
        """Send the stored bytes of `name` from the client's position up to `until`."""
        position = self.positions.get(name, 0)
        while position < until:
            text, following = await asyncio.to_thread(
                store.read_log, self.run.pk, name, position, min(store.READ_CHUNK, until - position)
            )
            if following == position:
                break
            await self.send_json(live.log_event(name, position, text))
            position = following
        self.positions[name] = position

    async def live_event(self, message):
        event = message["event"]
        if event.get("kind") != "log":
            await self.send_json(event)
            return
        name, offset, data = event["name"], event["offset"], event["data"].encode()
        end = offset + len(data)
        position = self.positions.get(name, 0)
        if end <= position:
            return  # already sent from the store
        if offset > position:
            await self.catch_up(name, offset)
            position = self.positions[name]
        if offset == position:
            await self.send_json(event)
        else:  # the message overlaps what was sent from the store; send only the rest
            rest = data[position - offset :]
            await self.send_json(live.log_event(name, position, rest.decode()))
        self.positions[name] = end


def status_event(run) -> live.StatusEvent:
    """The run's current status as the payload its transitions publish."""
    return live.status_event(run_id=run.pk, status=run.status, detail=run.status_detail,
                             seq=len(run.status_history))  # fmt: skip


def _offsets(query_string: bytes) -> dict[str, int]:
    raw = parse_qs(query_string.decode()).get("offsets", ["{}"])[0]
    try:
        parsed = json.loads(raw)
    except ValueError:
        return {}
    if not isinstance(parsed, dict):
        return {}
    return {
        str(k): int(v)
        for k, v in parsed.items()
        if isinstance(v, int) and not isinstance(v, bool) and v >= 0
    }
