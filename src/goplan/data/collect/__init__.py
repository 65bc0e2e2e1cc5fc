"""Make an offline dataset: roll out a task's behaviour policy with Gaussian action noise.

Episodes run in chunks of `num_envs` as one vectorised environment. Chunk i draws its seeds from
`SeedSequence(seed, spawn_key=(i,))` (the i-th child of the user's seed), so a seed and a chunk size
always give the same dataset, whatever the number of worker processes and however often the
collection was interrupted and resumed.

- workers > 1 rolls chunks out in a process pool (forkserver where available, else spawn); a script
  that calls it needs the `if __name__ == "__main__":` guard of Python multiprocessing, and the task
  (and keep predicate) must be importable by name in the workers.
- work_dir keeps every finished chunk as `chunk_00012.npz` (written atomically) beside a
  `manifest.json` of the arguments; a rerun with the same arguments reuses them.
- keep (a predicate over achieved goals (n, T+1, G) -> bool (n,)) keeps only the trajectories it
  accepts, and more chunks are rolled out until `episodes` trajectories are kept: the dataset is the
  first `episodes` kept trajectories in chunk order (how the OOD group datasets are made).

`collect_to_file` does all of that for a dataset name (see goplan.data.sizes) and writes the npz and
its card, then removes the work folder.

One job per module:

    rollout.py   one chunk: n episodes of the behaviour policy, spoiled as a Behaviour says
    pool.py      running chunk jobs here or in a process pool
    chunks.py    the finished chunks: in memory, or in a resumable work folder
    schedule.py  which chunks to roll out next, and which make the dataset
    api.py       collect, collect_to_file and behaviour_success, which drive the others

This package re-exports the names the rest of goplan uses.
"""
from goplan.data.collect.api import DEFAULT_EVAL_EPISODES, GENERATOR, behaviour_success, collect, collect_to_file
from goplan.data.collect.chunks import (CHUNK_KEYS, CHUNK_NAME, CHUNK_RE, MANIFEST_NAME, PARTS_FORMAT, PARTS_SUFFIX,
                                        parts_dir)
from goplan.data.collect.pool import MAX_DEFAULT_WORKERS, Keep, default_workers
from goplan.data.collect.rollout import ACTION_LIMIT, DEFAULT_NOISE_STD, Behaviour

__all__ = ["collect", "collect_to_file", "behaviour_success", "default_workers", "parts_dir", "Behaviour", "Keep",
           "ACTION_LIMIT", "CHUNK_KEYS", "CHUNK_NAME", "CHUNK_RE", "DEFAULT_EVAL_EPISODES", "DEFAULT_NOISE_STD",
           "GENERATOR", "MANIFEST_NAME", "MAX_DEFAULT_WORKERS", "PARTS_FORMAT", "PARTS_SUFFIX"]
