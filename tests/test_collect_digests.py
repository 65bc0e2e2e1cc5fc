"""Collection is reproducible bit for bit: the same seed gives the same datasets as the code did when these
digests were measured (before tasks/fetch.py and data/collect.py were split into packages and TaskSpec.extra
became typed fields; see also goplan.data.collect's module docstring on seeding).

Each case collects a few episodes and compares the sha256 of every array's bytes and of its card (JSON with
sorted keys) with the digest measured then. The MuJoCo cases were measured with mujoco 3.3.0 on
x86-64 Linux; another simulator build may legitimately give other numbers, so they are skipped there.
"""
import hashlib
import json
import platform

import numpy as np
import pytest

from goplan.data.collect import collect
from goplan.data.dataset import ARRAY_KEYS
from goplan.data.ood import group_by_alias

SEED = 0
MUJOCO_VERSION = "3.3.0"  # the pinned simulator the digests were measured with
MACHINE = "x86_64"
OOD_ALIAS = "FetchPushOOD-NearFar"  # the filtered case: trajectories kept inside the IID region
NUMPY_TASKS = ("PointRooms", "PointReach")
# case -> (task, episodes, collect keyword arguments)
CASES = {
    "FetchReach": ("FetchReach", 20, {}),
    "PointRooms": ("PointRooms", 20, {"detour_prob": 0.5, "naive_prob": 0.5, "random_prob": 0.3}),
    "PointReach": ("PointReach", 20, {"naive_prob": 0.5}),
    "FetchPush": ("FetchPush", 20, {}),
    "FetchPick": ("FetchPick", 6, {}),
    "FetchSlide": ("FetchSlide", 6, {}),
    "FetchReachNoise-1.0": ("FetchReachNoise-1.0", 6, {}),
    "SawyerReach": ("SawyerReach", 20, {}),
    "SawyerDoor": ("SawyerDoor", 6, {}),
    "Reacher": ("Reacher", 20, {}),
    "HandReach": ("HandReach", 6, {}),
    "FetchPushOOD-Near2Near-keep": ("FetchPushOOD-Near2Near", 6, {"num_envs": 6, "keep": OOD_ALIAS}),
}
DIGESTS = {
    "FetchPick": {
        "observations": "cc2c5bd8c62c204eeec31e42fbaa97b7c52db194da864b1d539b42af43f45fcf",
        "achieved_goals": "9ddb75d172aff1b724608fa184c143c1399651093cff4828e5ae2de17afbf945",
        "desired_goals": "d1cba45fc46a46f4ef1d28df8ed2b20c145dd2726ec63f244658921a3bbdb61c",
        "actions": "f219afdb9e726c1a79fff8baefc60f896645ec5746bf88171a03f7f869f67df8",
        "card": "8622dccd53d71881fd59fc3dc6b0aff84b32fb9f086313375bf1dc0f7ae9237a",
    },
    "FetchPush": {
        "observations": "d6244defe0f141b072232646b76e7fcff18679a118e426f061b24bcb6202dd42",
        "achieved_goals": "5171fc0ca1dd632fa2540ae4da042ae68cb9e007f3bda451483dc37d28ff3ba7",
        "desired_goals": "a49480418d87a026e5f5685842c4c4ed977f8f977bdd05b38c9b328c689cd7d9",
        "actions": "8f9d751e8d7490b61d4e93a0c5e25ec998049348db4a5ff16ead77ccd29666d3",
        "card": "75a01d903d15e33f9ebc0f10efd73566edf25374fbae70711f0df3ac4e97da62",
    },
    "FetchPushOOD-Near2Near-keep": {
        "observations": "25733a8a1419c1d9e8ee7b3dc2acb80fd21c687239c69a49b6153a00d3d60d56",
        "achieved_goals": "f14618326b73e1d91416ed0d66df77b1d9e75a0955bdb9e3940535e7d4d5f525",
        "desired_goals": "1ad6f3af744d5d1d4a23e6c6608c8008eb2522e2a853d51c2497844579e2c959",
        "actions": "af0291bcb16e33d3dd93c22bf9a50572dfe3f8d7cea2087805b3d7b63a971182",
        "card": "b4239e09500cb2fcb2b09b2cfa31f921a728fdc574dc4a06ab1d467022121385",
    },
    "FetchReach": {
        "observations": "773288f3bd1869ec930c2805c78b89d5bf5bc02072a166762d3e6ec17d1af2f8",
        "achieved_goals": "0deb1d813ec37f7774689f0beef6c2ca7d1114d7603fd283ad0e2f85874a9245",
        "desired_goals": "0ac4d2348a59eafe1e823842eec1962c7defb12a98da36a556173de5958fc993",
        "actions": "e163b291551c1f191061ffa71b2e599d9102520b609966879c3631aba70373aa",
        "card": "64b8d7d498e48b29d39b7b9de741c433cf2c551b43248179d19af75ae6a33ae5",
    },
    "FetchReachNoise-1.0": {
        "observations": "7bdc5e6c3fb1cfe27ee57ecf0b3e50991acfbf06d7631119b8152cccaa4885c8",
        "achieved_goals": "403351fcfa15c3466c5e65834f1429fcbbfafab911e4510191b563665569f365",
        "desired_goals": "75b7ef7f1d1c5be4aa5e9aabca7669ada12423406c50b037d656b07003be7686",
        "actions": "2b47084896850939238a2dafa5c54fc1e373ea08b0f316d90f63efd01df99364",
        "card": "a2bd29f6f2e168c076abfe668f5ce8fbda6aa53a43a043385c0ccf8b458fc099",
    },
    "FetchSlide": {
        "observations": "83e956fefda35c00cbd24f9cc684dddc6080402740594fa494f36a83db5fcda0",
        "achieved_goals": "697807788a52d42b820bd63a9baee4175773b5a1934f986c3858f5b37893b6bb",
        "desired_goals": "90485b84cd7a86d59e41356c785726a3c0916aa90098abba9932d577845b2d3d",
        "actions": "194bd33b8516488d016f87fea95c8556219a11d1146751f8cf68132dc4810196",
        "card": "eae276f7040ad1d64e75bd5dc3a50d6a47fc0b7e3cf37ccd3ef435b04dddcc48",
    },
    "HandReach": {
        "observations": "761cce6aeb780da645347eab7c20c04b3d8ab462ee03d27f460a22d1c944daa9",
        "achieved_goals": "64b72a46f085d3b78035cd03ed58955ba823f9208e1f5079fc3b4d5ff377ccd3",
        "desired_goals": "fb09a988a7134ce29e6d2224b99f5895b5f8ce3afcfade43ef7734b1f7df9b1e",
        "actions": "e056c91907a580098d84b919169113d4383d650a5aeacf372e1f38593df4bdb2",
        "card": "e76b72035ca0076461b87c479ade5250fafdaa7bfb2f554fc35e23ba0129b0a6",
    },
    "PointReach": {
        "observations": "1aa6a3e2b55ea5bbc083687482875b1405a27da7a2d7f13e30edb9c0c5383e11",
        "achieved_goals": "1aa6a3e2b55ea5bbc083687482875b1405a27da7a2d7f13e30edb9c0c5383e11",
        "desired_goals": "3fb16eec3fb4c7fec95722ec4c0b1023b3816bfb30899677ac80d197ce20a63a",
        "actions": "4241e071864565c24a66f193afb4c27e534b8fdd4308e90285ba8af1c70522e8",
        "card": "288ebb6fbd280c6335a3065b4649673a407ef3fdae84b2fa3674ae3388a50439",
    },
    "PointRooms": {
        "observations": "fc473c540b35474d1d72f9717d12af47c6c55c03f7faa9741e8d09fa1100076b",
        "achieved_goals": "fc473c540b35474d1d72f9717d12af47c6c55c03f7faa9741e8d09fa1100076b",
        "desired_goals": "ad80f2ece749086c5821e3593f6ebc87995feffa0c219c690a431b774dcbb71b",
        "actions": "205071775916021786d77793c586df67d35b928c8588f2ced64f44a04faaa202",
        "card": "9561ddb97e57852396c6c76dfc736a23b41677894d65193f57e6b6203fa90ed5",
    },
    "Reacher": {
        "observations": "cc14ce4c02b23579820eac57685f9d3cb19cde061c5ad0065ae5c377698cf1e4",
        "achieved_goals": "af28c174880fb0e4bb5d0d384658d93d0daf3bed1cba0f77c9e0ce3320285d95",
        "desired_goals": "d76ab47b010ebc00af8bc90ca4d09c2c61be4067565079bde59899c9c8149281",
        "actions": "abe20bcab806b89a41b862c34e0505c62c7a1a22298a2f569ec7e311188810ba",
        "card": "a5f2adff13161e60fd5016179ff0f31ef8e8e6234d00377a488cb38855fe2e31",
    },
    "SawyerDoor": {
        "observations": "3b6d793bf69167f2f4af37bd05751283e1fca249f1c842f6e181e38c6ca48da7",
        "achieved_goals": "c37464e9a4c7e5ac2fa71f7dc36b3d90b116748c3c081594d2229b4af461cac9",
        "desired_goals": "bf31641a1fad8bbf39af4c18122f2f893565d0613efd06626c8beb7d44b7119d",
        "actions": "c983eac1a11d51e199aa159cdbcab2599db442335ea59407d9e03e5d8c3d83c2",
        "card": "fc7168a2a7b8e5fecf2901c9985a0e16f2738a0be50aee88229d7a95f2e524b7",
    },
    "SawyerReach": {
        "observations": "2bcccd7a2f34fa18c2a75010724cdf311bfeb874ee0f1ec852811fa41ebfba7d",
        "achieved_goals": "2bcccd7a2f34fa18c2a75010724cdf311bfeb874ee0f1ec852811fa41ebfba7d",
        "desired_goals": "abd27c9b0081fae7952f74c271d5fc53e394501d3c5a9417682ec68f58185f12",
        "actions": "34c5b08e508d190d6ff118d2f3440256baf1fa47e0061482f4937c5a6762a8b7",
        "card": "a97418a254b324c2f794b79d665b9568ba09387f71f5e691b21a504f3efb8f87",
    },
}


def _digest(ds) -> dict[str, str]:
    out = {key: hashlib.sha256(np.ascontiguousarray(getattr(ds, key)).tobytes()).hexdigest() for key in ARRAY_KEYS}
    out["card"] = hashlib.sha256(json.dumps(ds.card, sort_keys=True).encode()).hexdigest()
    return out


def _needs_measured_simulator(task: str) -> None:
    if task in NUMPY_TASKS:
        return
    mujoco = pytest.importorskip("mujoco")
    pytest.importorskip("gymnasium_robotics")
    if task.startswith("Sawyer"):
        pytest.importorskip("metaworld")
    if mujoco.__version__ != MUJOCO_VERSION or platform.machine() != MACHINE:
        pytest.skip(f"digests measured with mujoco 3.3.0 on x86-64 Linux")


@pytest.mark.parametrize("case", list(CASES))
def test_same_seed_same_dataset_bit_for_bit(case):
    task, episodes, kwargs = CASES[case]
    _needs_measured_simulator(task)
    kwargs = dict(kwargs)
    if "keep" in kwargs:
        kwargs["keep"] = group_by_alias(kwargs["keep"]).iid_region()
    ds = collect(task, episodes, SEED, progress=False, **kwargs)
    assert _digest(ds) == DIGESTS[case]
