"""The executor's side of the metric transport: tail the JSON-lines files the SDK appends to
inside the run's private folder (one file per process), in order, a whole line at a time."""

from __future__ import annotations

from pathlib import Path

import orjson

PATTERN = "metrics-*.jsonl"
READ_LIMIT = 16 * 1024 * 1024
BATCH_RECORDS = 200_000


class TransportReader:
    def __init__(self, folder: Path, *, max_line: int):
        self.folder = folder
        self.max_line = max_line
        self.offsets: dict[Path, int] = {}
        self.skipping: set[Path] = set()  # files in the middle of a line too long to keep
        self.malformed = 0

    def read(self, *, final: bool = False) -> list[dict]:
        """Records appended since the last read, up to about BATCH_RECORDS (all of them when
        `final`). A line without its newline waits for the next read, unless `final`: then
        it was cut short by a crash and counts as malformed."""
        records: list[dict] = []
        for path in sorted(self.folder.glob(PATTERN)):
            while final or len(records) < BATCH_RECORDS:
                advanced = self._read_file(path, final, records)
                if not advanced:
                    break
        return records

    def _read_file(self, path: Path, final: bool, records: list[dict]) -> int:
        offset = self.offsets.get(path, 0)
        with open(path, "rb") as handle:
            handle.seek(offset)
            data = handle.read(READ_LIMIT)
        at_end = len(data) < READ_LIMIT
        if path in self.skipping:
            return self._skip_long_line(path, offset, data)
        end = len(data) if final and at_end else data.rfind(b"\n") + 1
        if end == 0 and not at_end:  # a whole read without a newline: drop that line
            self.malformed += 1
            self.skipping.add(path)
            return self._skip_long_line(path, offset, data)
        self.offsets[path] = offset + end
        chunk = data[:end].rstrip(b"\n")
        if not chunk:
            return end
        try:
            # One parse for the whole chunk is several times faster than one per line; a
            # malformed line makes it fail, and then the lines are parsed one by one.
            records += orjson.loads(b"[" + chunk.replace(b"\n", b",") + b"]")
        except orjson.JSONDecodeError:
            records += self._parse_lines(chunk)
        return end

    def _skip_long_line(self, path: Path, offset: int, data: bytes) -> int:
        """Skip to the end of an over-long line, wherever the reads find it."""
        newline = data.find(b"\n")
        if newline < 0:
            self.offsets[path] = offset + len(data)
            return len(data)
        self.skipping.discard(path)
        self.offsets[path] = offset + newline + 1
        return newline + 1

    def _parse_lines(self, chunk: bytes) -> list[dict]:
        records = []
        for line in chunk.split(b"\n"):
            if not line:
                continue
            if len(line) > self.max_line:
                self.malformed += 1
                continue
            try:
                records.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                self.malformed += 1
        return records
