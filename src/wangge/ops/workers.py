"""Worker processes that each accept connections on a listening socket of their own.

uvicorn's `--workers N` shares one listening socket among its workers, and asyncio accepts
every pending connection in one go (up to the backlog) in whichever worker wakes first: 32
clients that connect at once end up 24 on one worker and 8 on the other, and keep-alive keeps
them there. The busy worker's requests wait behind each other while the other core idles
(measured: worker CPU 18.4 s against 6.2 s under wrk, issue 15). With SO_REUSEPORT each worker
listens on its own socket bound to the same address, and the kernel spreads new connections
over them by a hash of the client's address and port, as nginx's `reuseport` does.

uvicorn has no option for this, so its worker class is replaced by one whose `target` binds its
own socket (see `serve`); the supervisor (health checks, restarts, SIGHUP) is uvicorn's own.
"""

from __future__ import annotations

import logging
import socket
import sys
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import multiprocess

log = logging.getLogger("uvicorn.error")


def reuse_port_available() -> bool:
    """Return whether SO_REUSEPORT spreads connections here: on Linux (3.9+) the kernel
    balances them over the sockets; the BSDs and macOS give them all to one socket."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _reuse_port_socket(host: str, port: int) -> socket.socket:
    sock = socket.socket(_family(host), socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def worker_socket(config: uvicorn.Config) -> socket.socket:
    """Bind and listen on the server's address with SO_REUSEPORT, in the worker process.

    It listens at once, before the application starts, so connections made while the worker
    imports wait in its queue as they did in the shared socket's."""
    sock = _reuse_port_socket(config.host, config.port)
    sock.listen(config.backlog)
    return sock


class OwnSocketProcess(multiprocess.Process):
    """A uvicorn worker that listens on a socket of its own instead of the parent's."""

    def target(self, sockets: list[socket.socket] | None = None) -> None:
        super().target([worker_socket(self.config)])


def _hold_port(host: str, port: int) -> socket.socket:
    """Check that nothing else serves the address, then hold it (bound, not listening).

    A bind without SO_REUSEPORT fails if a socket listens on the port, a second wangge server
    included (with SO_REUSEPORT alone, two servers would silently share the port and its
    traffic); SO_REUSEADDR lets it pass over the closed connections of a killed server."""
    try:
        with socket.socket(_family(host), socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
        return _reuse_port_socket(host, port)
    except OSError as exc:
        log.error(
            "无法监听 cannot listen on %s:%d（端口已被占用？port in use?）: %s", host, port, exc
        )
        sys.exit(STARTUP_FAILURE)


def serve(
    app: str, *, host: str, port: int, workers: int, factory: bool = True, **options: Any
) -> None:
    """Run `app` (an import string, of a factory by default) in `workers` processes, each on
    its own socket; `options` are uvicorn's."""
    config = uvicorn.Config(app, factory=factory, host=host, port=port, workers=workers, **options)
    held = _hold_port(host, port)
    log.info("Uvicorn running on http://%s:%d (Press CTRL+C to quit)", host, port)
    # uvicorn's supervisor creates its workers by this module-level name.
    multiprocess.Process = OwnSocketProcess  # type: ignore[misc]
    try:
        multiprocess.Multiprocess(config, sockets=[]).run()
    except KeyboardInterrupt:
        pass
    finally:
        held.close()
