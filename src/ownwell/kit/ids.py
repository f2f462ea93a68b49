"""Opaque, roughly time-ordered string ids (so keyset pagination follows creation order)."""

from __future__ import annotations

import base64
import os
import threading
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case


# base64's alphabet (RFC 4648) spelt in ours: b32encode does the arithmetic in C.
_FROM_RFC4648 = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", _ALPHABET.encode())


def _encode(number: int, length: int) -> str:
    """`number` as `length` base-32 digits, most significant first (zero-padded)."""
    # b32encode takes whole 5-byte groups: shift the digits to the top of enough of them.
    groups = -(-length // 8)
    padded = number << (groups * 40 - length * 5)
    digits = base64.b32encode(padded.to_bytes(groups * 5, "big"))[:length]
    return digits.translate(_FROM_RFC4648).decode()


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
    return f"{prefix}_{_encode(millis << _RANDOM_BITS | rand, 26)}"


def looks_like_id(prefix: str, value: str) -> bool:
    """Cheap shape check, so an id from a URL never reaches the database malformed."""
    if len(value) != len(prefix) + 27 or not value.startswith(prefix + "_"):
        return False
    return all(c in _ALPHABET for c in value[len(prefix) + 1 :])
