"""An in-process sliding-window limit on how often one key (an address, an IP) may act.

Each web process keeps its own windows; that is enough to stop a script flooding the help form
from one place. Time comes from the app's clock, so tests move it instead of sleeping."""

from __future__ import annotations

import threading
from collections import deque
from datetime import datetime, timedelta


class SlidingWindow:
    def __init__(self, limit: int, window: timedelta) -> None:
        self.limit = limit
        self.window = window
        self._hits: dict[str, deque[datetime]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: datetime) -> deque[datetime]:
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if not hits:
            del self._hits[key]  # forget quiet keys so the table does not grow forever
            return deque()
        return hits

    def allows(self, key: str, now: datetime) -> bool:
        with self._lock:
            return len(self._recent(key, now)) < self.limit

    def hit(self, key: str, now: datetime) -> None:
        with self._lock:
            self._recent(key, now)
            self._hits.setdefault(key, deque()).append(now)
