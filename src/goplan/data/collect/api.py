"""The entry points of collection: `collect` (a dataset in memory, optionally resumable and filtered),
`collect_to_file` (a named dataset into an npz and its card) and `behaviour_success`.

`collect` checks its arguments, then loops: the schedule picks chunks, the runner rolls them out (here
or in worker processes), the store keeps them (in memory or in the work folder); at the end the chosen
chunks are joined into the dataset and its card.
"""
from __future__ import annotations

import dataclasses
import math
import os
import shutil
from pathlib import Path
from typing import Any, Callable

import numpy as np
from tqdm.auto import tqdm

from goplan.data.collect.chunks import CHUNK_KEYS, PARTS_FORMAT, ChunkStore, parts_dir
from goplan.data.collect.pool import Job, Keep, Runner, default_workers
from goplan.data.collect.rollout import DEFAULT_NOISE_STD, Behaviour
from goplan.data.collect.schedule import Schedule
from goplan.data.dataset import TrajectoryDataset
from goplan.data.sizes import default_chunk_episodes, default_episodes, resolve_dataset
from goplan.errors import ConfigError, TaskError
from goplan.tasks.registry import TaskSpec, get_task

DEFAULT_EVAL_EPISODES = 200  # episodes behaviour_success rolls out by default
GENERATOR = "goplan collect"  # the generator recorded on cards and manifests


def _resolve(task: str | TaskSpec) -> TaskSpec:
    """The TaskSpec of a task name (or the spec itself); TaskError where it cannot be collected on."""
    spec = task if isinstance(task, TaskSpec) else get_task(task)
    if spec.make_vec_env is None or spec.behaviour_policy is None:
        raise TaskError(f"task {spec.name} has no vectorised environment or behaviour policy to collect with")
    return spec


def _is_count(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, np.integer))


def _check_args(episodes: int, noise_std: float, num_envs: int | None, seed: int = 0, workers: int = 1) -> None:
    """ConfigError naming the first of collect's numeric arguments that is out of range."""
    if not _is_count(episodes) or episodes <= 0:
        raise ConfigError(f"episodes must be a positive integer, got {episodes!r}")
    if num_envs is not None and (not _is_count(num_envs) or num_envs <= 0):
        raise ConfigError(f"num_envs must be a positive integer, got {num_envs!r}")
    if not isinstance(noise_std, (int, float, np.floating)) or not math.isfinite(noise_std) or noise_std < 0:
        raise ConfigError(f"noise_std must be a finite number >= 0, got {noise_std!r}")
    if not _is_count(seed) or seed < 0:
        raise ConfigError(f"seed must be an integer >= 0, got {seed!r}")
    if not _is_count(workers) or workers <= 0:
        raise ConfigError(f"workers must be a positive integer, got {workers!r}")


def _describe_keep(keep: Keep | None) -> str | None:
    """How the manifest and the card name a keep predicate (its describe(), else its name)."""
    if keep is None:
        return None
    describe = getattr(keep, "describe", None)
    return describe() if callable(describe) else getattr(keep, "__qualname__", repr(keep))


def collect(
    task: str | TaskSpec,
    episodes: int,
    seed: int,
    noise_std: float = DEFAULT_NOISE_STD,
    num_envs: int | None = None,
    progress: bool = True,
    detour_prob: float = 0.0,
    naive_prob: float = 0.0,
    random_prob: float = 0.0,
    *,
    workers: int = 1,
    work_dir: str | os.PathLike | None = None,
    keep: Keep | None = None,
    on_chunk: Callable[[int], None] | None = None,
) -> TrajectoryDataset:
    """Collect `episodes` behaviour-policy episodes with N(0, noise_std) action noise (clipped to [-1, 1]).

    num_envs: episodes per chunk (default: sizes.default_chunk_episodes of the task); the dataset
    depends on (seed, num_envs), not on `workers`. detour_prob > 0 makes the data suboptimal and
    multi-modal: that fraction of episodes first visits a random waypoint, then goes to the goal.
    naive_prob: that fraction of episodes follows the task's naive policy. random_prob: each step's
    action is, with that probability, uniform in the action box (DDPG + HER's random_eps).
    work_dir: keep finished chunks there and reuse them on a rerun (see goplan.data.collect.chunks).
    keep: keep only the trajectories this predicate accepts; `episodes` then counts kept ones.
    on_chunk(index) is called after each finished chunk is stored."""
    _check_args(episodes, noise_std, num_envs, seed, workers)
    behaviour = Behaviour(noise_std, detour_prob, naive_prob, random_prob).checked()
    spec = _resolve(task)
    if num_envs is None:
        num_envs = default_chunk_episodes(spec)
    episodes, num_envs, seed = int(episodes), int(num_envs), int(seed)
    schedule = Schedule(episodes, num_envs, filtered=keep is not None)
    manifest = {"format": PARTS_FORMAT, "generator": GENERATOR, "task": spec.name, "episodes": episodes,
                "seed": seed, **dataclasses.asdict(behaviour), "chunk_episodes": num_envs,
                "keep": _describe_keep(keep)}
    store = ChunkStore(spec, manifest, schedule.size, work_dir)
    runner = Runner(spec, workers)
    failed = True
    with tqdm(total=episodes, initial=schedule.progress(store.done), disable=not progress, unit="ep",
              desc=f"collect {spec.name}") as bar:
        try:
            while batch := schedule.next_batch(store.done):
                jobs = [Job(i, schedule.size(i), seed, behaviour, keep) for i in batch]
                for index, arrays, rolled in runner.run(jobs):
                    store.put(index, arrays, rolled)
                    bar.update(schedule.progress(store.done) - bar.n)
                    if on_chunk is not None:
                        on_chunk(index)
            failed = False
        finally:
            runner.close(failed)
    chosen = schedule.final(store.done)
    parts = [store.get(i) for i in chosen]
    arrays = {key: np.concatenate([part[key] for part in parts])[:episodes] for key in CHUNK_KEYS}
    rewards = arrays.pop("rewards")
    final = spec.reward(arrays["achieved_goals"][:, -1], arrays["desired_goals"][:, -1])
    card: dict[str, Any] = {
        "task": spec.name,
        "episodes": episodes,
        "behaviour_policy": spec.behaviour_policy_name,
        **dataclasses.asdict(behaviour),
        "seed": seed,
        "chunk_episodes": num_envs,
        "behaviour_success_rate": float(final.mean(dtype=np.float64)),
        "average_return": float(rewards.sum(axis=1, dtype=np.float64).mean()),
        "generator": GENERATOR,
    }
    if keep is not None:
        rolled = sum(store.done[i].rolled_out for i in chosen)
        kept = sum(store.done[i].kept for i in chosen)
        card.update(keep_filter=_describe_keep(keep), rolled_out_episodes=rolled, kept_fraction=kept / rolled)
    return TrajectoryDataset(**arrays, card=card)


def collect_to_file(
    name: str,
    out: str | os.PathLike,
    episodes: int | None = None,
    seed: int = 0,
    noise_std: float = DEFAULT_NOISE_STD,
    workers: int | None = None,
    chunk_episodes: int | None = None,
    progress: bool = True,
    detour_prob: float = 0.0,
    naive_prob: float = 0.0,
    random_prob: float = 0.0,
    on_chunk: Callable[[int], None] | None = None,
) -> TrajectoryDataset:
    """Collect the dataset `name` (a task, `TASK-s`, or an OOD group; see goplan.data.sizes) into `out`.

    episodes defaults to the paper size. Finished chunks wait in OUT.parts/ until the npz and its JSON
    card are written; a rerun of an interrupted command resumes from them. Returns the saved dataset."""
    plan = resolve_dataset(name)
    paper = plan.episodes
    episodes = default_episodes(plan) if episodes is None else episodes
    workers = default_workers() if workers is None else workers
    out = Path(out)
    if out.suffix != ".npz":
        out = out.with_suffix(".npz")
    keep = plan.ood_group.iid_region() if plan.ood_group is not None else None
    work = parts_dir(out)
    ds = collect(plan.task, episodes, seed, noise_std=noise_std, num_envs=chunk_episodes, progress=progress,
                 detour_prob=detour_prob, naive_prob=naive_prob, random_prob=random_prob, workers=workers,
                 work_dir=work, keep=keep, on_chunk=on_chunk)
    ds.card.update(dataset=plan.name, variant=plan.variant, paper_size=episodes == paper)
    if plan.ood_group is not None:
        ds.card["ood_group"] = plan.ood_group.name
    ds.save(out)
    shutil.rmtree(work)
    return ds


def behaviour_success(task: str | TaskSpec, episodes: int = DEFAULT_EVAL_EPISODES, seed: int = 0) -> dict[str, Any]:
    """Noise-free success rate and average return of the task's behaviour policy."""
    ds = collect(task, episodes, seed, noise_std=0.0, num_envs=episodes, progress=False)
    return {
        "task": ds.card["task"],
        "episodes": episodes,
        "success_rate": ds.card["behaviour_success_rate"],
        "average_return": ds.card["average_return"],
    }


__all__ = ["collect", "collect_to_file", "behaviour_success"]
