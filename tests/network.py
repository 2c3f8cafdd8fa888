"""What a run's network reaches: the host's own services, seen from the test process."""

from __future__ import annotations

import contextlib
import socket

# The shared Redis and PostgreSQL a studio may run beside: what a run must not reach.
SERVICE_PORTS = (6379, 5432)


def host_reaches(ports) -> set[int]:
    """The ports of `ports` this host itself connects to on 127.0.0.1."""
    reached = set()
    for port in ports:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 2):
            reached.add(port)
    return reached
