"""Back-off for web sign-in, by client address: failed attempts from one IP address slow that
address down, for one account and for all of them.

Why not a lock per account (what Ownwell had): anyone who knows an address could lock its owner
out with five wrong passwords, and a locked account answered differently from an unknown one,
so the lock told which accounts exist. Here nothing an attacker does changes what another
address sees: after FAILURES_PER_ACCOUNT failures for one e-mail address from one IP address
within WINDOW, that IP address waits before trying that e-mail address again; after
FAILURES_PER_IP failures for any e-mail addresses, it waits before trying any. Both count
typed addresses, known or not, so the wait says nothing about which accounts exist. Guessing
spread over many IP addresses is slowed by argon2 and the 10-character minimum password, not
stopped; that is the price of not letting anyone lock anyone out.

The state is kept in this process (a dict under a lock, one per app), not in the database: it
is lost on restart, and with several web processes each counts on its own, so a guesser whose
requests the load balancer spreads over N processes gets up to N times the tries. Time comes
from the app's clock, so tests move it instead of sleeping.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

WINDOW = timedelta(minutes=15)
FAILURES_PER_ACCOUNT = 5  # per (IP address, typed e-mail address) within WINDOW
FAILURES_PER_IP = 20  # per IP address, whatever e-mail addresses, within WINDOW
# More keys than this (a flood from many addresses): the stalest are forgotten first.
MAX_KEYS = 50_000


@dataclass
class Attempt:
    """An attempt under way: counted as a failure until `succeeded` says otherwise, so that
    many attempts at the same moment cannot all slip past the limit before any is counted."""

    keys: tuple[tuple[str, ...], ...]
    at: datetime


@dataclass
class SignInThrottle:
    _failures: dict[tuple[str, ...], deque[datetime]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def begin(self, *, ip: str, email: str, now: datetime) -> Attempt | datetime:
        """An attempt that may go ahead, or the time before which this IP address must wait."""
        keys = (("ip", ip), ("ip-account", ip, " ".join(email.split()).casefold()))
        limits = (FAILURES_PER_IP, FAILURES_PER_ACCOUNT)
        with self._lock:
            waits = []
            for key, limit in zip(keys, limits, strict=True):
                times = self._recent(key, now)
                if len(times) >= limit:
                    waits.append(times[len(times) - limit] + WINDOW)
            if waits:
                return max(waits)
            for key in keys:
                self._failures.setdefault(key, deque()).append(now)
            self._forget_stale(now)
        return Attempt(keys=keys, at=now)

    def succeeded(self, attempt: Attempt) -> None:
        """The password was right: this attempt is no failure, and the account's count from
        this IP address starts again (the IP address's own count does not)."""
        with self._lock:
            ip_key, account_key = attempt.keys
            times = self._failures.get(ip_key)
            if times is not None and attempt.at in times:
                times.remove(attempt.at)
            self._failures.pop(account_key, None)

    def _recent(self, key: tuple[str, ...], now: datetime) -> deque[datetime]:
        times = self._failures.get(key, deque())
        while times and times[0] <= now - WINDOW:
            times.popleft()
        return times

    def _forget_stale(self, now: datetime) -> None:
        if len(self._failures) <= MAX_KEYS:
            return
        for key in [k for k, times in self._failures.items() if not times or times[-1] <= now - WINDOW]:
            del self._failures[key]
        excess = len(self._failures) - MAX_KEYS
        if excess > 0:
            for key in sorted(self._failures, key=lambda k: self._failures[k][-1])[:excess]:
                del self._failures[key]
