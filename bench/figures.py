from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class Figure:
    """One measured figure. `below=True` means smaller is better (a latency, a size)."""

    name: str
    value: float
    unit: str
    target: float | None = None
    below: bool = True
    peer_name: str | None = None
    peer_value: float | None = None
    min_ratio: float | None = None  # how many times better than the peer it must be

    @classmethod
    def throughput(cls, name: str, size: int, seconds: float, *, peer_name: str,
                   peer_seconds: float) -> Figure:  # fmt: skip
        """MB/s of moving `size` bytes in `seconds`, beside a plain copy of them (the peer)."""
        mb = 1024 * 1024
        return cls(name, size / mb / seconds, "MB/s", below=False, peer_name=peer_name,
                   peer_value=size / mb / peer_seconds)  # fmt: skip

    @property
    def met(self) -> bool | None:
        checks = []
        if self.target is not None:
            checks.append(self.value <= self.target if self.below else self.value >= self.target)
        if self.min_ratio is not None:
            checks.append(self.ratio is not None and self.ratio >= self.min_ratio)
        return all(checks) if checks else None

    @property
    def ratio(self) -> float | None:
        if not self.peer_value or not self.value:
            return None
        return self.peer_value / self.value if self.below else self.value / self.peer_value

    def row(self) -> tuple[str, ...]:
        sign = "≤" if self.below else "≥"
        return (
            self.name,
            f"{self.value:.4g} {self.unit}",
            f"{sign} {self.target:g} {self.unit}" if self.target is not None else "-",
            f"{self.peer_name} {self.peer_value:.4g} {self.unit}" if self.peer_name else "-",
            (f"{self.ratio:.1f}x" if self.ratio else "-")
            + (f" (≥ {self.min_ratio:g}x)" if self.min_ratio else ""),
            {True: "met", False: "MISS", None: "-"}[self.met],
        )

    def as_dict(self) -> dict:
        return {**asdict(self), "met": self.met, "ratio": self.ratio}


def upload_figures(
    what: str, *, total: int, seconds: float, peer: float, sent_bytes: int, again: float
) -> list[Figure]:
    """An upload of a folder of `total` bytes beside `cp -r` of it, then the bytes sent and the
    time of uploading it again after one file changed (content addressing sends only that)."""
    return [
        Figure.throughput(
            f"{what} of a folder", total, seconds, peer_name="cp -r", peer_seconds=peer
        ),
        Figure(
            f"{what} after one file changed: bytes sent",
            100 * sent_bytes / total,
            "% of the folder",
            target=1.0,
        ),
        Figure(f"{what} after one file changed: time", again, "s"),
    ]
