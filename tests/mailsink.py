"""A real SMTP server on loopback (aiosmtpd) that records every message it accepts."""

from __future__ import annotations

import re
import socket
import threading
import time
from email import message_from_bytes, policy
from email.message import Message

from aiosmtpd.controller import Controller

_MESSAGE_ID = re.compile(rb"^Message-ID: (<[^>\r\n]+>)", re.MULTILINE | re.IGNORECASE)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Recorder:
    def __init__(self, sink: MailSink) -> None:
        self.sink = sink

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.sink.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        found = _MESSAGE_ID.search(envelope.content)
        with self.sink.lock:
            self.sink.raw.append(envelope.content)
            self.sink.message_ids.append(found.group(1).decode() if found else "")
        return "250 Message accepted for delivery"


class MailSink:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        # Parsing is deferred: a sink that parses as it receives becomes the bottleneck.
        self.raw: list[bytes] = []
        self.message_ids: list[str] = []
        self.refuse: set[str] = set()
        self.lock = threading.Lock()
        self._controller: Controller | None = None

    def start(self) -> MailSink:
        self._controller = Controller(_Recorder(self), hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def messages(self) -> list[Message]:
        with self.lock:
            raw = list(self.raw)
        return [message_from_bytes(r, policy=policy.default) for r in raw]

    def count(self) -> int:
        with self.lock:
            return len(self.raw)

    def wait_for(self, n: int, timeout: float = 30.0) -> None:
        """Wall-clock wait for a real server process, bounded; not business time."""
        deadline = time.monotonic() + timeout
        while self.count() < n:
            if time.monotonic() > deadline:
                raise AssertionError(f"only {self.count()} of {n} messages arrived in {timeout} s")
            time.sleep(0.02)

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if m["To"] == address]
