"""Run chunk jobs: in this process, or in a lazily started process pool (forkserver where available,
else spawn) whose workers look the task up by name.

A job is one chunk: its index, size, the user's seed, the behaviour and the keep predicate. The chunk's
seeds are `SeedSequence(seed, spawn_key=(index,))`, so its result does not depend on the process that
runs it.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from goplan.data.collect.rollout import Behaviour, rollout_chunk
from goplan.errors import ConfigError
from goplan.tasks.registry import TaskSpec, get_task

MAX_DEFAULT_WORKERS = 4  # default_workers uses at most this many processes
# the module each forkserver worker imports once, before it forks (the whole collection package)
PRELOAD_MODULE = __package__
Keep = Callable[[np.ndarray], np.ndarray]  # achieved goals (n, T+1, G) -> bool (n,)


def default_workers() -> int:
    """min(CPU count, MAX_DEFAULT_WORKERS)."""
    return max(1, min(os.cpu_count() or 1, MAX_DEFAULT_WORKERS))


@dataclass(frozen=True)
class Job:
    """One chunk to roll out (picklable: it travels to a worker process)."""

    index: int
    size: int  # episodes to roll out
    seed: int
    behaviour: Behaviour
    keep: Keep | None


def run_job(spec: TaskSpec, job: Job) -> tuple[int, dict[str, np.ndarray], int]:
    """(chunk index, its arrays (only the kept episodes where the job filters), episodes rolled out)."""
    seq = np.random.SeedSequence(job.seed, spawn_key=(job.index,))
    arrays = rollout_chunk(spec, job.size, seq, job.behaviour)
    if job.keep is not None:
        mask = np.asarray(job.keep(arrays["achieved_goals"]), dtype=bool)
        if mask.shape != (job.size,):
            raise ConfigError(f"the keep predicate must return {job.size} booleans, got shape {mask.shape}")
        arrays = {key: value[mask] for key, value in arrays.items()}
    return job.index, arrays, job.size


def _worker_init() -> None:
    # Ctrl-C reaches the whole process group: the parent handles it and stops the pool.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _worker_run(item: tuple[str, Job]) -> tuple[int, dict[str, np.ndarray], int]:
    """run_job in a worker process: the task travels by name and is looked up in the worker's registry."""
    task_name, job = item
    return run_job(get_task(task_name), job)


def _pool_context() -> multiprocessing.context.BaseContext:
    """forkserver (workers fork from a process that imported the collection package once), else spawn."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload([PRELOAD_MODULE])
        return ctx
    return multiprocessing.get_context("spawn")


class Runner:
    """Runs jobs in this process (one worker, or a single job) or in a lazily started process pool."""

    def __init__(self, spec: TaskSpec, workers: int):
        self.spec, self.workers = spec, workers
        self._pool = None
        if workers > 1 and get_task(spec.name) is not spec:
            raise ConfigError(f"workers > 1 needs a registered task; {spec.name} is not the registered task "
                              f"of that name (use workers=1)")

    def run(self, jobs: list[Job]) -> Iterator[tuple[int, dict[str, np.ndarray], int]]:
        if self.workers == 1 or (len(jobs) == 1 and self._pool is None):
            for job in jobs:
                yield run_job(self.spec, job)
            return
        if self._pool is None:
            self._pool = _pool_context().Pool(min(self.workers, len(jobs)), initializer=_worker_init)
        yield from self._pool.imap_unordered(_worker_run, [(self.spec.name, job) for job in jobs])

    def close(self, failed: bool) -> None:
        if self._pool is None:
            return
        if failed:
            self._pool.terminate()
        else:
            self._pool.close()
        self._pool.join()
        self._pool = None


__all__ = ["Job", "Keep", "Runner", "default_workers", "run_job"]
