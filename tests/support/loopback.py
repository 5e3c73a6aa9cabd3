"""A local HTTP(S) server for the tests that need one: 127.0.0.1, a free port, served from a daemon thread."""

import ssl
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator, Optional, Type


@contextmanager
def loopback_server(
    handler: Type[BaseHTTPRequestHandler], tls: Optional[ssl.SSLContext] = None
) -> Iterator[ThreadingHTTPServer]:
    """The server answering with ``handler`` (over TLS with ``tls``) until the block ends; then it is shut down."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def url(server: ThreadingHTTPServer, scheme: str = "http") -> str:
    return f"{scheme}://127.0.0.1:{server.server_address[1]}"
