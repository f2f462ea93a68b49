"""Opaque, roughly time-ordered string ids (so keyset pagination follows creation order)."""

from __future__ import annotations

import os
import threading
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case


def _encode(number: int, length: int) -> str:
    chars = []
    for _ in range(length):
        number, rem = divmod(number, 32)
        chars.append(_ALPHABET[rem])
    return "".join(reversed(chars))


_RANDOM_BITS = 80
_lock = threading.Lock()
_last: tuple[int, int] = (0, 0)


def new_id(prefix: str) -> str:
    """Ids made in one process are strictly increasing, even within one millisecond (monotonic
    ULID): two events one service call writes, say "approved" then "applied", keep their order."""
    global _last
    # Wall time here only orders ids for pagination; business time always comes from the Clock.
    millis = time.time_ns() // 1_000_000
    with _lock:
        last_millis, last_rand = _last
        if millis <= last_millis and last_rand + 1 < 1 << _RANDOM_BITS:
            millis, rand = last_millis, last_rand + 1
        else:
            rand = int.from_bytes(os.urandom(_RANDOM_BITS // 8), "big") >> 1  # room to count up
        _last = (millis, rand)
    return f"{prefix}_{_encode(millis, 10)}{_encode(rand, 16)}"


def looks_like_id(prefix: str, value: str) -> bool:
    """Cheap shape check, so an id from a URL never reaches the database malformed."""
    if len(value) != len(prefix) + 27 or not value.startswith(prefix + "_"):
        return False
    return all(c in _ALPHABET for c in value[len(prefix) + 1 :])
