"""One of the studio's web server processes: `python -m mlstudio.web --fd N`.

`manage.py studio` binds the studio's port once and hands the listening socket to each web
process it starts (MLSTUDIO_WEB_PROCESSES of them). They accept from it in turn, so the
websockets and pages share more than one core, and a web process that dies and is started
again finds the port still bound: connections made meanwhile wait in the socket's queue
instead of being refused.
"""

from __future__ import annotations

import argparse
import socket

import uvicorn


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m mlstudio.web")
    parser.add_argument("--fd", type=int, required=True, help="a listening socket's descriptor")
    args = parser.parse_args(argv)
    # Family and type are read from the descriptor (uvicorn's own --fd takes it for a Unix
    # socket, and then its connections get no TCP_NODELAY).
    listener = socket.socket(fileno=args.fd)
    host, port = listener.getsockname()[:2]
    config = uvicorn.Config("mlstudio.asgi:application", host=host, port=port, lifespan="off")
    uvicorn.Server(config).run(sockets=[listener])


if __name__ == "__main__":
    main()
