"""Two independent pieces of work at once, on two CPU threads.

`Overlap` runs calls handed to `run` on one side thread while the caller goes on with other work, each
with half of torch's intra-op threads, so that one side's elementwise work, autograd and Python hide
behind the other's matrix products. Two users:

- A pretraining update (agents/goplan.py) has two halves that share no parameters: the dynamics
  ensemble's step (Eq. 3) followed by the value function's gradient step (Eq. 6), and the CGAN's two
  steps (Eq. 7, 8). The side thread takes the first half. The arithmetic is unchanged and every
  random number is still drawn by the calling thread, in the same order.
- The CPU planner (planner/planner.py) plans its batches of start states two at a time. Each batch
  draws from its own generator, seeded from the caller's, so the plans do not depend on which thread
  took which batch.

Only the matrix kernels see fewer threads each, which can change the last bits of a sum; with the same
threads per kernel, overlapped work equals sequential work bit for bit (tests/test_overlap.py).

Disabled (fewer than 2 threads, CUDA, or the config's overlap settings off), `run` calls the function
at once, in the order the caller wrote.

Under load (other busy processes on the same cores) the overlap needs no fallback. With 2 threads its
halves run 1 thread each and start no OpenMP team. What collapsed beside other processes was
2-thread OpenMP work, which is also the sequential path: libgomp's idle threads spinning on cores
that other threads needed. `import goplan` makes them sleep instead (goplan/threads.py,
docs/notes/overlap-under-load.md).
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable

import torch

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
_on_side = threading.local()  # flag set on the side thread


def _forget_pool() -> None:
    """In a forked child the side thread does not exist: start a new one there when needed."""
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def _side_pool() -> ThreadPoolExecutor:
    """The process's one side thread (created on first use; idle threads cost nothing)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="goplan-side")
        return _pool


class Overlap:
    """Context for one piece of overlapped work: `run(fn, *args)` returns a Future; leaving the block
    waits for every submitted call (also when the caller's own part raised), restores the caller's
    thread count and re-raises the first failure of the side thread."""

    def __init__(self, enabled: bool):
        total = torch.get_num_threads()
        # on the side thread itself, work runs inline: waiting there for the one side thread would deadlock
        self.enabled = enabled and total >= 2 and not getattr(_on_side, "flag", False)
        self.total = total
        self.side_threads = total // 2
        self.pending: list[Future] = []

    def __enter__(self) -> "Overlap":
        if self.enabled:
            torch.set_num_threads(self.total - self.side_threads)
        return self

    def run(self, fn: Callable[..., Any], *args: Any) -> Future:
        if not self.enabled:
            done: Future = Future()
            done.set_result(fn(*args))
            return done
        threads = self.side_threads

        def call():
            _on_side.flag = True
            if torch.get_num_threads() != threads:  # the count is per thread; set it where the work runs
                torch.set_num_threads(threads)
            return fn(*args)

        future = _side_pool().submit(call)
        self.pending.append(future)
        return future

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            for future in self.pending:
                future.exception()  # wait, whatever happened on this side
        finally:
            if self.enabled:
                torch.set_num_threads(self.total)
        if exc_type is None:
            for future in self.pending:
                future.result()  # re-raise the side thread's first failure
