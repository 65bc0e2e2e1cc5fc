"""Parallel, resumable and filtered collection: identical data for any worker count, resume after an
interrupt, work-folder checks, paper sizes and dataset names."""
import json

import numpy as np
import pytest

from goplan.data.collect import CHUNK_NAME, MANIFEST_NAME, collect, collect_to_file, parts_dir
from goplan.data.dataset import ARRAY_KEYS, TrajectoryDataset
from goplan.data.sizes import (HIGH_DIM_TRANSITIONS, LOW_DIM_TRANSITIONS, OOD_TRAJECTORIES, SMALL_DIVISOR,
                               default_episodes, resolve_dataset)
from goplan.errors import ConfigError, DatasetError, TaskError
from goplan.tasks import get_task

TASK = "PointRooms"
EPISODES = 36
CHUNK = 8  # 5 chunks, the last one short
NUM_CHUNKS = 5
SEED = 7
INTERRUPT_AFTER = 2


class Interrupt(Exception):
    pass


def assert_same_arrays(a: TrajectoryDataset, b: TrajectoryDataset) -> None:
    for key in ARRAY_KEYS:
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key), err_msg=key)


@pytest.fixture(scope="module")
def reference():
    return collect(TASK, EPISODES, SEED, num_envs=CHUNK, progress=False)


def test_two_workers_give_the_same_arrays(reference):
    two = collect(TASK, EPISODES, SEED, num_envs=CHUNK, progress=False, workers=2)
    assert_same_arrays(two, reference)
    assert two.card == reference.card


def test_chunk_i_is_seeded_by_the_ith_child_of_the_seed(reference):
    # the chunking and seeding the datasets have always had: chunk i <- SeedSequence(seed).spawn(K)[i]
    first = collect(TASK, CHUNK, SEED, num_envs=CHUNK, progress=False)
    assert_same_arrays(first, reference.subset(slice(0, CHUNK)))
    assert not np.array_equal(reference.observations[:CHUNK], reference.observations[CHUNK:2 * CHUNK])


@pytest.mark.parametrize("workers", [1, 2])
def test_interrupted_collection_resumes_to_the_same_arrays(tmp_path, reference, workers):
    out = tmp_path / "rooms.npz"
    finished = []

    def stop_after_two(index):
        finished.append(index)
        if len(finished) == INTERRUPT_AFTER:
            raise Interrupt

    with pytest.raises(Interrupt):
        collect_to_file(TASK, out, episodes=EPISODES, seed=SEED, chunk_episodes=CHUNK, workers=workers,
                        progress=False, on_chunk=stop_after_two)
    work = parts_dir(out)
    chunks = sorted(p.name for p in work.glob("chunk_*.npz"))
    assert chunks == sorted(CHUNK_NAME.format(i) for i in finished)
    assert (work / MANIFEST_NAME).is_file() and not out.exists()

    redone = []
    ds = collect_to_file(TASK, out, episodes=EPISODES, seed=SEED, chunk_episodes=CHUNK, workers=workers,
                         progress=False, on_chunk=redone.append)
    assert sorted(redone + finished) == list(range(NUM_CHUNKS))  # nothing done twice
    assert not work.exists()
    loaded = TrajectoryDataset.load(out)
    assert_same_arrays(loaded, reference)
    assert loaded.card["sha256"] == reference.checksum()
    assert loaded.card["behaviour_success_rate"] == reference.card["behaviour_success_rate"]


def test_resume_with_other_arguments_is_refused(tmp_path):
    out = tmp_path / "rooms.npz"

    def stop(index):
        raise Interrupt

    with pytest.raises(Interrupt):
        collect_to_file(TASK, out, episodes=EPISODES, seed=SEED, chunk_episodes=CHUNK, workers=1,
                        progress=False, on_chunk=stop)
    with pytest.raises(ConfigError) as info:
        collect_to_file(TASK, out, episodes=EPISODES, seed=SEED + 1, chunk_episodes=CHUNK, workers=1,
                        progress=False)
    message = str(info.value)
    assert "\n" not in message and MANIFEST_NAME in message and f"seed={SEED}" in message
    with pytest.raises(ConfigError, match="noise_std"):
        collect_to_file(TASK, out, episodes=EPISODES, seed=SEED, noise_std=0.5, chunk_episodes=CHUNK,
                        workers=1, progress=False)


def test_bad_work_folders_are_dataset_errors(tmp_path):
    work = tmp_path / "w"
    work.mkdir()
    with pytest.raises(DatasetError, match=MANIFEST_NAME):
        collect(TASK, EPISODES, SEED, num_envs=CHUNK, progress=False, work_dir=work)
    (work / MANIFEST_NAME).write_text("{not json")
    with pytest.raises(DatasetError, match="unreadable"):
        collect(TASK, EPISODES, SEED, num_envs=CHUNK, progress=False, work_dir=work)

    good = tmp_path / "g"
    collect(TASK, CHUNK, SEED, num_envs=CHUNK, progress=False, work_dir=good)
    chunk = good / CHUNK_NAME.format(0)
    chunk.write_bytes(chunk.read_bytes()[: chunk.stat().st_size // 2])
    with pytest.raises(DatasetError) as info:
        collect(TASK, CHUNK, SEED, num_envs=CHUNK, progress=False, work_dir=good)
    assert str(chunk) in str(info.value) and "\n" not in str(info.value)

    # a chunk of the wrong size (e.g. copied from another collection) is refused, not used
    other = tmp_path / "o"
    collect(TASK, CHUNK // 2, SEED, num_envs=CHUNK, progress=False, work_dir=other)
    chunk.write_bytes((other / CHUNK_NAME.format(0)).read_bytes())
    with pytest.raises(DatasetError, match="rolled out"):
        collect(TASK, CHUNK, SEED, num_envs=CHUNK, progress=False, work_dir=good)


def test_work_folder_chunks_are_reused_not_recomputed(tmp_path):
    work = tmp_path / "w"
    first = collect(TASK, EPISODES, SEED, num_envs=CHUNK, progress=False, work_dir=work)
    runs = []
    again = collect(TASK, EPISODES, SEED, num_envs=CHUNK, progress=False, work_dir=work, on_chunk=runs.append)
    assert runs == [] and again.checksum() == first.checksum()


def x_positive(achieved):
    """Keep trajectories whose x stays > 0 (about a quarter of PointReach's)."""
    return (achieved[..., 0] > 0).all(axis=1)


@pytest.mark.parametrize("workers", [1, 2])
def test_filtered_collection_keeps_the_first_accepted_trajectories(workers):
    wanted = 12
    ds = collect("PointReach", wanted, SEED, num_envs=CHUNK, progress=False, keep=x_positive, workers=workers)
    assert ds.num_episodes == wanted
    assert x_positive(ds.achieved_goals).all()
    rolled = ds.card["rolled_out_episodes"]
    assert rolled > wanted and rolled % CHUNK == 0  # some were discarded; extra chunks were rolled out
    # the same chunks unfiltered, then filtered here: the dataset is their first `wanted` accepted ones
    everything = collect("PointReach", rolled, SEED, num_envs=CHUNK, progress=False)
    accepted = everything.subset(np.flatnonzero(x_positive(everything.achieved_goals))[:wanted])
    assert_same_arrays(ds, accepted)
    assert (~x_positive(everything.achieved_goals)).any()
    assert ds.card["kept_fraction"] == pytest.approx(x_positive(everything.achieved_goals).mean())


def test_a_filter_that_rejects_everything_gives_up():
    with pytest.raises(DatasetError, match="passed the filter"):
        collect("PointReach", 4, SEED, num_envs=CHUNK, progress=False,
                keep=lambda ag: np.zeros(len(ag), dtype=bool))


@pytest.mark.parametrize(
    "name, task, episodes, variant",
    [
        ("PointRooms", "PointRooms", LOW_DIM_TRANSITIONS // 50, "full"),
        ("PointRooms-s", "PointRooms", LOW_DIM_TRANSITIONS // 50 // SMALL_DIVISOR, "small"),
        ("SawyerDoor", "SawyerDoor", 2000, "full"),
        ("FetchReachNoise-1.0", "FetchReachNoise-1.0", 2000, "full"),
        ("FetchPush", "FetchPush", HIGH_DIM_TRANSITIONS // 50, "full"),
        ("FetchPush-s", "FetchPush", 4000, "small"),
        ("FetchPick-s", "FetchPick", 4000, "small"),
        ("FetchSlide-s", "FetchSlide", 4000, "small"),
        ("HandReach-s", "HandReach", 4000, "small"),
        ("HandReach", "HandReach", 40000, "full"),
        ("FetchPushOOD-Right2Right", "FetchPushOOD-Right2Right", OOD_TRAJECTORIES, "full"),
        ("FetchPushOOD-LeftRight", "FetchPushOOD-Right2Right", OOD_TRAJECTORIES, "full"),
        ("FetchPickOOD-LowHigh-s", "FetchPickOOD-Low2Low", OOD_TRAJECTORIES // SMALL_DIVISOR, "small"),
    ],
)
def test_paper_sizes_and_names(name, task, episodes, variant):
    plan = resolve_dataset(name)
    assert (plan.task, plan.variant, default_episodes(plan)) == (task, variant, episodes)
    assert (plan.ood_group is not None) == ("OOD" in name)


def test_names_without_a_paper_size():
    with pytest.raises(ConfigError, match="goplan collect FetchPushOOD-Right2Right"):
        default_episodes(resolve_dataset("FetchPushOOD-Left2Right"))
    with pytest.raises(TaskError, match="unknown task"):
        resolve_dataset("FetchPushh")
    with pytest.raises(TaskError):
        resolve_dataset("-s")


def test_small_variant_card(tmp_path):
    ds = collect_to_file("PointReach-s", tmp_path / "r.npz", workers=1, progress=False)
    card = json.loads((tmp_path / "r.json").read_text())
    assert ds.num_episodes == LOW_DIM_TRANSITIONS // SMALL_DIVISOR // get_task("PointReach").max_steps
    assert card["task"] == "PointReach" and card["dataset"] == "PointReach-s"
    assert card["variant"] == "small" and card["paper_size"] is True and card["transitions"] == 10_000


@pytest.mark.parametrize("kwargs", [{"seed": -1}, {"workers": 0}, {"workers": 1.5}, {"num_envs": 0}])
def test_bad_arguments(kwargs):
    args = {"task": TASK, "episodes": 4, "seed": 0, "progress": False, **kwargs}
    with pytest.raises(ConfigError) as info:
        collect(**args)
    assert "\n" not in str(info.value)
