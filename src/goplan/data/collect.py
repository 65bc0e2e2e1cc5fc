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
"""
from __future__ import annotations

import dataclasses
import json
import math
import multiprocessing
import os
import re
import shutil
import signal
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
from tqdm.auto import tqdm

from goplan.data.dataset import ARRAY_KEYS, TrajectoryDataset, read_json_object
from goplan.errors import ConfigError, DatasetError, TaskError
from goplan.tasks.registry import TaskSpec, get_task

DEFAULT_NOISE_STD = 0.2
DEFAULT_EVAL_EPISODES = 200
ACTION_LIMIT = 1.0
GENERATOR = "goplan collect"
DEFAULT_POLICY_NAME = "scripted"
MAX_DEFAULT_WORKERS = 4

# the work folder of a resumable collection
PARTS_SUFFIX = ".parts"
PARTS_FORMAT = 1
MANIFEST_NAME = "manifest.json"
CHUNK_NAME = "chunk_{:05d}.npz"
CHUNK_RE = re.compile(r"chunk_(\d{5,})\.npz")
TMP_SUFFIX = ".tmp"
ROLLED_OUT_KEY = "rolled_out"  # scalar in a chunk file: episodes simulated (kept ones are stored)
CHUNK_KEYS = ARRAY_KEYS + ("rewards",)
# leading axes of each chunk array: "n" episodes, then T+1 or T steps
CHUNK_STEPS = {"observations": 1, "achieved_goals": 1, "desired_goals": 0, "actions": 0, "rewards": 0}

# filtered collections (keep=...)
KEEP_MARGIN = 1.1  # schedule this much more than the running keep rate predicts is needed
MAX_ROLLOUT_FACTOR = 20  # give up past rolling out this many times the wanted trajectories
UNKNOWN_RATE = 1.0  # keep rate assumed before any chunk finished


def _resolve(task: str | TaskSpec) -> TaskSpec:
    spec = task if isinstance(task, TaskSpec) else get_task(task)
    if spec.make_vec_env is None or spec.behaviour_policy is None:
        raise TaskError(f"task {spec.name} has no vectorised environment or behaviour policy to collect with")
    return spec


def _is_count(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, np.integer))


def _check_args(episodes: int, noise_std: float, num_envs: int | None, seed: int = 0, workers: int = 1) -> None:
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


def default_workers() -> int:
    """min(CPU count, MAX_DEFAULT_WORKERS)."""
    return max(1, min(os.cpu_count() or 1, MAX_DEFAULT_WORKERS))


@dataclass(frozen=True)
class Behaviour:
    """How the behaviour policy's actions are spoiled (every field is recorded in the dataset card).

    noise_std: std of the Gaussian noise added to every action (clipped to the action box after).
    detour_prob: the fraction of episodes that first pursue a random waypoint from the task's goal
    sampler and turn to their real goal once the waypoint is reached (within eps).
    naive_prob: the fraction of episodes driven by the task's naive policy (spec.extra["naive_policy"],
    e.g. a straight line that ignores walls) instead of the competent one.
    random_prob: the probability that a step's action (after the noise) is replaced by one drawn
    uniformly from the action box, as the exploration of the DDPG + HER agents that made the
    benchmark's data does (its random_eps)."""

    noise_std: float = DEFAULT_NOISE_STD
    detour_prob: float = 0.0
    naive_prob: float = 0.0
    random_prob: float = 0.0

    def checked(self) -> "Behaviour":
        """The same values as floats; a ConfigError names the first probability out of [0, 1] (the noise
        is checked with collect's other arguments, in _check_args)."""
        for name in ("detour_prob", "naive_prob", "random_prob"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise ConfigError(f"{name} must be in [0, 1], got {value!r}")
        return Behaviour(*(float(v) for v in dataclasses.astuple(self)))


def _rollout_chunk(spec: TaskSpec, n: int, seq: np.random.SeedSequence,
                   behaviour: Behaviour = Behaviour()) -> dict[str, np.ndarray]:
    """Run n episodes of spec.max_steps steps with the behaviour policy spoiled as `behaviour` says;
    returns the four arrays and the rewards (n, T)."""
    noise_std, detour_prob, naive_prob, random_prob = dataclasses.astuple(behaviour)
    env_seed, policy_seed = seq.spawn(2)
    env = spec.make_vec_env(n, seed=int(env_seed.generate_state(1)[0]))
    rng = np.random.default_rng(policy_seed)
    obs = env.reset()
    detouring = np.zeros(n, dtype=bool)
    waypoint = np.zeros((n, spec.goal_dim), dtype=np.float32)
    if detour_prob > 0:
        if spec.goal_sampler is None:
            raise TaskError(f"task {spec.name} has no goal sampler to draw detour waypoints from")
        detouring = rng.random(n) < detour_prob
        waypoint = np.asarray(spec.goal_sampler(n, rng), dtype=np.float32)
    naive = np.zeros(n, dtype=bool)
    if naive_prob > 0:
        if "naive_policy" not in spec.extra:
            raise TaskError(f"task {spec.name} has no naive policy to mix into its behaviour")
        naive = rng.random(n) < naive_prob
    t_max = spec.max_steps
    observations = np.empty((n, t_max + 1, spec.obs_dim), dtype=np.float32)
    achieved = np.empty((n, t_max + 1, spec.goal_dim), dtype=np.float32)
    actions = np.empty((n, t_max, spec.act_dim), dtype=np.float32)
    rewards = np.empty((n, t_max), dtype=np.float32)
    goal = np.asarray(obs["desired_goal"], dtype=np.float32).copy()
    for t in range(t_max):
        observations[:, t] = obs["observation"]
        achieved[:, t] = obs["achieved_goal"]
        if detour_prob > 0:
            detouring &= spec.reward(obs["achieved_goal"], waypoint) == 0
            obs = dict(obs, desired_goal=np.where(detouring[:, None], waypoint, obs["desired_goal"]))
        act = np.asarray(spec.behaviour_policy(obs, rng), dtype=np.float64)
        if naive.any():
            act = np.where(naive[:, None], spec.extra["naive_policy"](obs, rng), act)
        if noise_std > 0:
            act = act + rng.normal(0.0, noise_std, size=act.shape)
        act = np.clip(act, -ACTION_LIMIT, ACTION_LIMIT)
        if random_prob > 0:  # no draws otherwise: datasets made without it stay bit-identical
            uniform = rng.uniform(-ACTION_LIMIT, ACTION_LIMIT, size=act.shape)
            act = np.where((rng.random(n) < random_prob)[:, None], uniform, act)
        act = act.astype(np.float32)
        actions[:, t] = act
        obs, rewards[:, t] = env.step(act)
    observations[:, t_max] = obs["observation"]
    achieved[:, t_max] = obs["achieved_goal"]
    desired = np.repeat(goal[:, None, :], t_max, axis=1)
    return {"observations": observations, "achieved_goals": achieved, "desired_goals": desired,
            "actions": actions, "rewards": rewards}


# ======================================================================================
# chunks: one job each, run here or in a worker process
# ======================================================================================
Keep = Callable[[np.ndarray], np.ndarray]  # achieved goals (n, T+1, G) -> bool (n,)


@dataclass(frozen=True)
class _Job:
    index: int
    size: int  # episodes to roll out
    seed: int
    behaviour: Behaviour
    keep: Keep | None


@dataclass(frozen=True)
class _Done:
    kept: int
    rolled_out: int


def _run_job(spec: TaskSpec, job: _Job) -> tuple[int, dict[str, np.ndarray], int]:
    seq = np.random.SeedSequence(job.seed, spawn_key=(job.index,))
    arrays = _rollout_chunk(spec, job.size, seq, job.behaviour)
    if job.keep is not None:
        mask = np.asarray(job.keep(arrays["achieved_goals"]), dtype=bool)
        if mask.shape != (job.size,):
            raise ConfigError(f"the keep predicate must return {job.size} booleans, got shape {mask.shape}")
        arrays = {key: value[mask] for key, value in arrays.items()}
    return job.index, arrays, job.size


def _worker_init() -> None:
    # Ctrl-C reaches the whole process group: the parent handles it and stops the pool.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _worker_run(item: tuple[str, _Job]) -> tuple[int, dict[str, np.ndarray], int]:
    task_name, job = item
    return _run_job(get_task(task_name), job)


def _pool_context() -> multiprocessing.context.BaseContext:
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload([__name__])
        return ctx
    return multiprocessing.get_context("spawn")


class _Runner:
    """Runs jobs in this process (one worker, or a single job) or in a lazily started process pool."""

    def __init__(self, spec: TaskSpec, workers: int):
        self.spec, self.workers = spec, workers
        self._pool = None
        if workers > 1 and get_task(spec.name) is not spec:
            raise ConfigError(f"workers > 1 needs a registered task; {spec.name} is not the registered task "
                              f"of that name (use workers=1)")

    def run(self, jobs: list[_Job]) -> Iterator[tuple[int, dict[str, np.ndarray], int]]:
        if self.workers == 1 or (len(jobs) == 1 and self._pool is None):
            for job in jobs:
                yield _run_job(self.spec, job)
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


# ======================================================================================
# where finished chunks live: memory, or a resumable work folder
# ======================================================================================
def _describe_keep(keep: Keep | None) -> str | None:
    if keep is None:
        return None
    describe = getattr(keep, "describe", None)
    return describe() if callable(describe) else getattr(keep, "__qualname__", repr(keep))


class _ChunkStore:
    """Finished chunks by index. With a folder, each chunk is a file and the folder can be resumed."""

    def __init__(self, spec: TaskSpec, manifest: dict[str, Any], chunk_size: Callable[[int], int],
                 work_dir: str | os.PathLike | None):
        self.spec, self.manifest, self.chunk_size = spec, manifest, chunk_size
        self.filtered = manifest["keep"] is not None
        self.dir = None if work_dir is None else Path(work_dir)
        self.done: dict[int, _Done] = {}
        self._memory: dict[int, dict[str, np.ndarray]] = {}
        if self.dir is not None:
            self._open()

    # ---- the work folder ----
    def _open(self) -> None:
        d = self.dir
        manifest_path = d / MANIFEST_NAME
        if d.exists() and not d.is_dir():
            raise DatasetError(f"{d}: exists and is not a folder; it is needed as the collection's work folder")
        if not d.exists():
            d.mkdir(parents=True)
            _write_text_atomic(manifest_path, json.dumps(self.manifest, indent=2, sort_keys=True))
            return
        if not manifest_path.exists():
            raise DatasetError(f"{d}: work folder without {MANIFEST_NAME}; delete the folder to start over")
        try:
            saved = read_json_object(manifest_path, "collection manifest")
        except DatasetError as exc:
            why = str(exc).removeprefix(f"{manifest_path}: ")
            raise DatasetError(f"{manifest_path}: unreadable ({why}); delete {d} to start over") from None
        diffs = [f"{k}={saved.get(k)!r} (now {v!r})" for k, v in self.manifest.items() if saved.get(k) != v]
        if diffs:
            raise ConfigError(f"{manifest_path}: the unfinished collection there was made with {', '.join(diffs)}; "
                              f"rerun with the same arguments, or delete {d} to start over")
        for stale in d.glob("*" + TMP_SUFFIX):  # a write cut short by an interrupt
            stale.unlink()
        for path in sorted(d.iterdir()):
            match = CHUNK_RE.fullmatch(path.name)
            if match:
                index = int(match.group(1))
                self.done[index] = self._summary(path, index)

    def _path(self, index: int) -> Path:
        return self.dir / CHUNK_NAME.format(index)

    def _read(self, path: Path, index: int) -> tuple[dict[str, np.ndarray], int]:
        hint = "delete it to collect that chunk again"
        try:
            with open(path, "rb") as f, np.load(f, allow_pickle=False) as z:
                names = set(z.files)
                want = set(CHUNK_KEYS) | {ROLLED_OUT_KEY}
                if names != want:
                    raise DatasetError(f"{path}: holds arrays {sorted(names)}, expected {sorted(want)}; {hint}")
                arrays = {key: z[key] for key in CHUNK_KEYS}
                rolled = z[ROLLED_OUT_KEY]
        except DatasetError:
            raise
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            raise DatasetError(f"{path}: not a readable chunk ({type(exc).__name__}); {hint}") from None
        if rolled.shape != () or rolled.dtype.kind not in "iu":
            raise DatasetError(f"{path}: '{ROLLED_OUT_KEY}' must be an integer scalar; {hint}")
        rolled = int(rolled)
        self._check(path, index, arrays, rolled, hint)
        return arrays, rolled

    def _check(self, path: Path, index: int, arrays: dict[str, np.ndarray], rolled: int, hint: str) -> None:
        spec, t = self.spec, self.spec.max_steps
        if rolled != self.chunk_size(index):
            raise DatasetError(
                f"{path}: rolled out {rolled} episodes, chunk {index} has {self.chunk_size(index)}; {hint}")
        dims = {"observations": (spec.obs_dim,), "achieved_goals": (spec.goal_dim,),
                "desired_goals": (spec.goal_dim,), "actions": (spec.act_dim,), "rewards": ()}
        n = arrays["actions"].shape[0] if arrays["actions"].ndim else -1
        for key, arr in arrays.items():
            want = (n, t + CHUNK_STEPS[key], *dims[key])
            if arr.shape != want or arr.dtype != np.float32:
                raise DatasetError(f"{path}: '{key}' is {arr.dtype} {arr.shape}, expected float32 {want}; {hint}")
        if n > rolled or (not self.filtered and n != rolled):
            raise DatasetError(f"{path}: holds {n} episodes of the {rolled} rolled out; {hint}")

    def _summary(self, path: Path, index: int) -> _Done:
        arrays, rolled = self._read(path, index)
        return _Done(len(arrays["actions"]), rolled)

    # ---- chunks ----
    def put(self, index: int, arrays: dict[str, np.ndarray], rolled: int) -> None:
        self.done[index] = _Done(len(arrays["actions"]), rolled)
        if self.dir is None:
            self._memory[index] = arrays
            return
        path = self._path(index)
        tmp = path.with_name(path.name + TMP_SUFFIX)
        with open(tmp, "wb") as f:
            np.savez(f, **arrays, **{ROLLED_OUT_KEY: np.int64(rolled)})
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    def get(self, index: int) -> dict[str, np.ndarray]:
        if self.dir is None:
            return self._memory[index]
        return self._read(self._path(index), index)[0]


def _write_text_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + TMP_SUFFIX)
    tmp.write_text(text)
    os.replace(tmp, path)


# ======================================================================================
# which chunks to roll out
# ======================================================================================
class _Schedule:
    """Chunk indices to run next, and the chunks that make the dataset.

    Unfiltered: chunks 0..K-1 of `chunk` episodes (the last one shorter). Filtered: full chunks, as
    many as it takes for their kept trajectories to reach `episodes`."""

    def __init__(self, episodes: int, chunk: int, filtered: bool):
        self.episodes, self.chunk, self.filtered = episodes, chunk, filtered
        self.num_unfiltered = math.ceil(episodes / chunk)

    def size(self, index: int) -> int:
        if self.filtered:
            return self.chunk
        return min(self.chunk, self.episodes - index * self.chunk)

    def _prefix(self, done: dict[int, _Done]) -> tuple[int, int, int]:
        """(p, kept, rolled_out) over the finished chunks 0..p-1, stopping once enough are kept."""
        p = kept = rolled = 0
        while p in done and kept < self.episodes:
            kept += done[p].kept
            rolled += done[p].rolled_out
            p += 1
        return p, kept, rolled

    def progress(self, done: dict[int, _Done]) -> int:
        """Episodes (kept trajectories) of the dataset already in finished chunks."""
        if not self.filtered:
            return sum(self.size(i) for i in done if i < self.num_unfiltered)
        return min(self._prefix(done)[1], self.episodes)

    def next_batch(self, done: dict[int, _Done]) -> list[int]:
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

    def final(self, done: dict[int, _Done]) -> list[int]:
        if not self.filtered:
            return list(range(self.num_unfiltered))
        return list(range(self._prefix(done)[0]))


# ======================================================================================
# collection
# ======================================================================================
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
    work_dir: keep finished chunks there and reuse them on a rerun (see the module docstring).
    keep: keep only the trajectories this predicate accepts; `episodes` then counts kept ones.
    on_chunk(index) is called after each finished chunk is stored."""
    _check_args(episodes, noise_std, num_envs, seed, workers)
    behaviour = Behaviour(noise_std, detour_prob, naive_prob, random_prob).checked()
    spec = _resolve(task)
    if num_envs is None:
        from goplan.data.sizes import default_chunk_episodes

        num_envs = default_chunk_episodes(spec)
    episodes, num_envs, seed = int(episodes), int(num_envs), int(seed)
    schedule = _Schedule(episodes, num_envs, filtered=keep is not None)
    manifest = {"format": PARTS_FORMAT, "generator": GENERATOR, "task": spec.name, "episodes": episodes,
                "seed": seed, **dataclasses.asdict(behaviour), "chunk_episodes": num_envs,
                "keep": _describe_keep(keep)}
    store = _ChunkStore(spec, manifest, schedule.size, work_dir)
    runner = _Runner(spec, workers)
    failed = True
    with tqdm(total=episodes, initial=schedule.progress(store.done), disable=not progress, unit="ep",
              desc=f"collect {spec.name}") as bar:
        try:
            while batch := schedule.next_batch(store.done):
                jobs = [_Job(i, schedule.size(i), seed, behaviour, keep) for i in batch]
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
        "behaviour_policy": spec.extra.get("behaviour_policy_name", DEFAULT_POLICY_NAME),
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


def parts_dir(out: str | os.PathLike) -> Path:
    """The work folder of a collection into `out` (OUT.npz -> OUT.parts)."""
    return Path(out).with_suffix(PARTS_SUFFIX)


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
    from goplan.data.sizes import default_episodes, resolve_dataset

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


__all__ = ["collect", "collect_to_file", "behaviour_success", "default_workers", "parts_dir"]
