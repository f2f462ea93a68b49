"""Pure rules of recurring issues: matching a vector to an issue, spikes, trends, batch clustering."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import numpy as np
from numpy.typing import NDArray

LABEL_MAX = 300
TREND_DAYS = 7


class Centroids:
    """The live issues' directions as one matrix, so matching a case is one matrix-vector product.
    Adding a case moves its issue's centroid at once: the next case in the same batch sees it."""

    def __init__(self, ids: list[str], sums: NDArray[np.float32]) -> None:
        self.ids = ids
        self.sums = sums.reshape(len(ids), -1).astype(np.float32) if ids else np.zeros((0, 0), np.float32)
        self.units = _rows_unit(self.sums)
        self.index = {issue_id: i for i, issue_id in enumerate(ids)}

    def best(self, vector: NDArray[np.float32]) -> tuple[str | None, float]:
        if not self.ids or not vector.any():
            return None, 0.0
        sims = self.units @ vector
        i = int(np.argmax(sims))
        return self.ids[i], float(sims[i])

    def add(self, issue_id: str, vector: NDArray[np.float32]) -> NDArray[np.float32]:
        """Add a member's vector to an issue (a new one if unknown); returns the issue's new sum."""
        i = self.index.get(issue_id)
        if i is None:
            self.ids.append(issue_id)
            self.index[issue_id] = len(self.ids) - 1
            row = vector.reshape(1, -1).astype(np.float32)
            self.sums = row.copy() if self.sums.size == 0 else np.vstack([self.sums, row])
            self.units = row.copy() if self.units.size == 0 else np.vstack([self.units, _rows_unit(row)])
            return self.sums[-1]
        self.sums[i] += vector
        self.units[i] = _rows_unit(self.sums[i : i + 1])[0]
        return self.sums[i]


def _rows_unit(rows: NDArray[np.float32]) -> NDArray[np.float32]:
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return np.divide(rows, norms, out=np.zeros_like(rows), where=norms > 0)


def joins(similarity: float, threshold: float) -> bool:
    return similarity >= threshold


def should_alert_spike(
    *, recent_cases: int, spike_cases: int, last_alert: datetime | None, now: datetime, window: timedelta
) -> bool:
    """K cases inside the window alert once; the next alert needs a new window to have begun."""
    if recent_cases < spike_cases:
        return False
    return last_alert is None or now - last_alert >= window


def label_for(subject: str) -> str:
    subject = " ".join(subject.split())
    return subject[:LABEL_MAX] or "(no words)"


def trend(arrivals: Sequence[datetime], *, now: datetime, days: int = TREND_DAYS) -> dict[str, object]:
    """Cases per day over the last `days` days (oldest first), and the last 24 h against the 24 h
    before: what a supervisor needs to see whether an issue is growing."""
    daily = [0] * days
    last_24h = previous_24h = 0
    for at in arrivals:
        age = now - at
        if age < timedelta(0):
            age = timedelta(0)
        day = int(age / timedelta(days=1))
        if day < days:
            daily[days - 1 - day] += 1
        if age < timedelta(hours=24):
            last_24h += 1
        elif age < timedelta(hours=48):
            previous_24h += 1
    direction = "rising" if last_24h > previous_24h else "falling" if last_24h < previous_24h else "flat"
    return {"daily": daily, "last_24h": last_24h, "previous_24h": previous_24h, "direction": direction}


def cluster(
    vectors: NDArray[np.float32],
    *,
    threshold: float,
    passes: int = 2,
    progress: Callable[[int], None] | None = None,
) -> NDArray[np.int64]:
    """Batch clustering for a rebuild, without being told how many issues there are: one leader
    pass (a vector joins the most similar centroid at or above `threshold`, else starts a group),
    then `passes` rounds of moving every vector to its most similar centroid (spherical k-means
    seeded by the leader pass, so early arrivals no longer decide the groups). Memory grows with
    vectors x groups, never vectors squared."""
    n = len(vectors)
    labels = np.full(n, -1, dtype=np.int64)
    live = Centroids([], np.zeros((0, vectors.shape[1] if n else 0), np.float32))
    for i in range(n):
        best, similarity = live.best(vectors[i])
        key = best if best is not None and joins(similarity, threshold) else str(len(live.ids))
        live.add(key, vectors[i])
        labels[i] = live.index[key]
        if progress is not None:
            progress(1)
    for _ in range(passes):
        k = int(labels.max()) + 1 if n else 0
        sums = np.zeros((k, vectors.shape[1]), np.float32)
        np.add.at(sums, labels, vectors)
        units = _rows_unit(sums)
        moved = np.empty(n, dtype=np.int64)
        for start in range(0, n, 4096):
            moved[start : start + 4096] = np.argmax(vectors[start : start + 4096] @ units.T, axis=1)
        # A vector nothing resembles keeps its own group rather than joining a poor match.
        sims = np.einsum("ij,ij->i", vectors, units[moved])
        moved = np.where(sims >= threshold, moved, labels)
        _, labels = np.unique(moved, return_inverse=True)
        labels = labels.astype(np.int64)
    return labels
