"""A keep-alive connection is closed after a hundred requests, so that a few long-lived clients
spread over `ownwell serve --workers N` instead of staying with the process that accepted them."""

from __future__ import annotations

import socket
import threading
import time

import uvicorn

from ownwell.keepalive import REQUESTS_PER_CONNECTION


def _get(sock: socket.socket) -> bytes:
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
    while len(body) < length:
        body += sock.recv(65536)
    return head.lower()


def test_a_real_server_closes_a_connection_after_its_hundredth_request(app):
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            heads = [_get(sock) for _ in range(REQUESTS_PER_CONNECTION)]
            assert all(b"connection: close" not in head for head in heads[:-1])
            assert b"connection: close" in heads[-1]
            assert sock.recv(1) == b""  # the server has closed its end
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            assert b"200 ok" in _get(sock)  # the client reconnects and goes on
    finally:
        server.should_exit = True
        thread.join(10)
