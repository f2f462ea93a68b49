"""Ids follow creation order, so a case's timeline reads in the order its events were written."""

from __future__ import annotations

from ownwell.kit.ids import looks_like_id, new_id


def test_ids_made_in_one_burst_are_strictly_increasing_and_well_formed():
    # 20,000 ids take a few milliseconds: many share a millisecond and must still keep their order.
    ids = [new_id("ev") for _ in range(20_000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(looks_like_id("ev", value) for value in ids)
