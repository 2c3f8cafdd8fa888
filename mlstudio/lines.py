"""Cutting a process's output into the lines a log shows. Django-free: the run executor and
its tests use it on plain bytes."""

from __future__ import annotations

MAX_LINE = 64 * 1024


def utf8_boundary(data: bytes) -> int:
    """The largest length <= len(data) that does not split a UTF-8 character."""
    end = len(data)
    back = 0
    while back < 4 and end - back > 0 and (data[end - back - 1] & 0xC0) == 0x80:
        back += 1
    if end - back > 0:
        lead = data[end - back - 1]
        width = (
            2
            if lead >> 5 == 0b110
            else 3
            if lead >> 4 == 0b1110
            else 4
            if lead >> 3 == 0b11110
            else 1
        )
        if width > back + 1:
            return end - back - 1
    return end


class LineSplitter:
    """Cuts output into complete lines for the log.

    A carriage return (tqdm, progress bars) overwrites the line it is on, so only the last
    state of such a line is kept. Lines longer than `max_line` are written in pieces, each
    cut at a UTF-8 boundary, so memory stays bounded.
    """

    def __init__(self, max_line: int = MAX_LINE):
        self.max_line = max_line
        self.current = bytearray()
        self.ready = bytearray()

    @property
    def pending_output(self) -> bool:
        return bool(self.ready)

    @property
    def pending_size(self) -> int:
        return len(self.ready)

    def feed(self, chunk: bytes) -> None:
        self.current += chunk
        if b"\n" in chunk:
            *complete, rest = bytes(self.current).split(b"\n")
            for line in complete:
                self.ready += last_state(line) + b"\n"
            self.current = bytearray(rest)
        if b"\r" in self.current:
            overwriting = self.current.endswith(b"\r")
            self.current = bytearray(last_state(bytes(self.current)) + b"\r" * overwriting)
        if len(self.current) > self.max_line:
            cut = utf8_boundary(bytes(self.current[: self.max_line]))
            self.ready += self.current[:cut]
            del self.current[:cut]

    def take(self) -> bytes:
        data = bytes(self.ready)
        self.ready.clear()
        return data

    def close(self) -> bytes:
        if self.current:
            self.ready += last_state(bytes(self.current)) + b"\n"
            self.current.clear()
        return self.take()


def last_state(line: bytes) -> bytes:
    """What a terminal shows of a line rewritten with carriage returns: its last state."""
    if b"\r" not in line:
        return line
    states = [part for part in line.split(b"\r") if part]
    return states[-1] if states else b""
