"""A local HTTP(S) server for the tests that need one: 127.0.0.1, a free port, served from a daemon thread."""

import os
import ssl
import subprocess
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator, List, Optional, Tuple, Type


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


def answering(
    status: int, content_type: str, body: bytes, received: Optional[List[Tuple[str, str, str, bytes]]] = None
) -> Type[BaseHTTPRequestHandler]:
    """A handler that reads each GET or POST and answers it with ``status`` and ``body``, appending (method, path,
    headers, body) of each request to ``received`` when given."""

    class Answering(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802  (http.server's naming)
            request = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if received is not None:
                received.append((self.command, self.path, str(self.headers), request))
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET

        def log_message(self, *_arguments) -> None:
            pass

    return Answering


def url(server: ThreadingHTTPServer, scheme: str = "http") -> str:
    return f"{scheme}://127.0.0.1:{server.server_address[1]}"


def self_signed_certificate(directory: str) -> Tuple[str, str]:
    """A certificate for 127.0.0.1 made now with openssl, valid for a day: (its PEM path, its key's PEM path)."""
    certificate, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            key,
            "-out",
            certificate,
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return certificate, key


def server_context(certificate: str, key: str) -> ssl.SSLContext:
    """A server SSLContext that presents the certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate, key)
    return context
