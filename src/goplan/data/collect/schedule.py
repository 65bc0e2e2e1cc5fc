"""Which chunks to roll out next, and which chunks make the dataset.

Unfiltered collections roll out chunks 0..K-1 once each. Filtered ones (keep=...) roll out full
chunks in batches sized by the keep rate seen so far, until the kept trajectories of a prefix of chunks
reach the wanted count; a filter that keeps too little stops the collection with an error.
"""
from __future__ import annotations

import math

from goplan.data.collect.chunks import Done
from goplan.errors import DatasetError

# filtered collections (keep=...)
KEEP_MARGIN = 1.1  # schedule this much more than the running keep rate predicts is needed
MAX_ROLLOUT_FACTOR = 20  # give up past rolling out this many times the wanted trajectories
UNKNOWN_RATE = 1.0  # keep rate assumed before any chunk finished


class Schedule:
    """Chunk indices to run next, and the chunks that make the dataset.

    Unfiltered: chunks 0..K-1 of `chunk` episodes (the last one shorter). Filtered: full chunks, as
    many as it takes for their kept trajectories to reach `episodes`."""

    def __init__(self, episodes: int, chunk: int, filtered: bool):
        self.episodes, self.chunk, self.filtered = episodes, chunk, filtered
        self.num_unfiltered = math.ceil(episodes / chunk)

    def size(self, index: int) -> int:
        """Episodes chunk `index` rolls out."""
        if self.filtered:
            return self.chunk
        return min(self.chunk, self.episodes - index * self.chunk)

    def _prefix(self, done: dict[int, Done]) -> tuple[int, int, int]:
        """(p, kept, rolled_out) over the finished chunks 0..p-1, stopping once enough are kept."""
        p = kept = rolled = 0
        while p in done and kept < self.episodes:
            kept += done[p].kept
            rolled += done[p].rolled_out
            p += 1
        return p, kept, rolled

    def progress(self, done: dict[int, Done]) -> int:
        """Episodes (kept trajectories) of the dataset already in finished chunks."""
        if not self.filtered:
            return sum(self.size(i) for i in done if i < self.num_unfiltered)
        return min(self._prefix(done)[1], self.episodes)

    def next_batch(self, done: dict[int, Done]) -> list[int]:
        """Chunks to roll out next (none: the dataset is complete); DatasetError if the filter keeps too little."""
        if not self.filtered:
            return [i for i in range(self.num_unfiltered) if i not in done]
        p, kept, rolled = self._prefix(done)
        if kept >= self.episodes:
            return []
        limit = MAX_ROLLOUT_FACTOR * self.episodes
        if rolled >= limit or (rolled >= self.episodes and kept * MAX_ROLLOUT_FACTOR < rolled):
            raise DatasetError(f"only {kept} of {rolled} rolled-out trajectories passed the filter; at that rate "
                               f"{self.episodes} would take more than {limit} episodes")
        rate = kept / rolled if rolled else UNKNOWN_RATE
        need = math.ceil(KEEP_MARGIN * (self.episodes - kept) / (max(rate, 1.0 / MAX_ROLLOUT_FACTOR) * self.chunk))
        need = max(1, min(need, math.ceil((limit - rolled) / self.chunk)))
        return [i for i in range(p, p + need) if i not in done]

    def final(self, done: dict[int, Done]) -> list[int]:
        """The chunks whose trajectories, in order, make the dataset (the first `episodes` of them)."""
        if not self.filtered:
            return list(range(self.num_unfiltered))
        return list(range(self._prefix(done)[0]))


__all__ = ["Schedule"]
