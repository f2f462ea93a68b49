"""Ids follow creation order, so a case's timeline reads in the order its events were written."""

from __future__ import annotations

from ownwell.kit.ids import looks_like_id, new_id


def test_ids_made_in_one_burst_are_strictly_increasing_and_well_formed():
    # 20,000 ids take a few milliseconds: many share a millisecond and must still keep their order.
    ids = [new_id("ev") for _ in range(20_000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(looks_like_id("ev", value) for value in ids)


def _digits(number: int, length: int) -> str:
    """Base 32 the long way, digit by digit: what an id's characters must spell."""
    alphabet = "0123456789abcdefghjkmnpqrstvwxyz"
    return "".join(alphabet[(number >> (5 * i)) & 31] for i in reversed(range(length)))


def test_an_id_spells_its_millisecond_then_its_random_part_in_crockford_base32(monkeypatch):
    import ownwell.kit.ids as ids

    millis, rand = 1_764_578_400_123, 0x4F3A_0000_1234_5678_9ABC
    monkeypatch.setattr(ids.time, "time_ns", lambda: millis * 1_000_000 + 999)
    monkeypatch.setattr(ids.os, "urandom", lambda n: (rand << 1).to_bytes(n, "big"))
    monkeypatch.setattr(ids, "_last", (0, 0))
    assert new_id("cas") == f"cas_{_digits(millis, 10)}{_digits(rand, 16)}"
    # The same millisecond again: the random part counts up by one.
    assert new_id("cas") == f"cas_{_digits(millis, 10)}{_digits(rand + 1, 16)}"
