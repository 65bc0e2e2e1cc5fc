"""Where finished chunks live: in memory, or in a resumable work folder (OUT.parts/).

The folder holds `manifest.json` (the collection's arguments) and one `chunk_00012.npz` per finished
chunk, each written atomically (a temporary file, then a rename). A rerun with the same arguments finds
them and rolls out only the missing chunks; other arguments, or a damaged file, stop it with an error
that says what to delete.
"""
from __future__ import annotations

import json
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from goplan.data.dataset import ARRAY_KEYS, read_json_object
from goplan.errors import ConfigError, DatasetError
from goplan.tasks.registry import TaskSpec

# the work folder of a resumable collection
PARTS_SUFFIX = ".parts"
PARTS_FORMAT = 1  # version of the work folder's layout, recorded in the manifest
MANIFEST_NAME = "manifest.json"
CHUNK_NAME = "chunk_{:05d}.npz"
CHUNK_RE = re.compile(r"chunk_(\d{5,})\.npz")
TMP_SUFFIX = ".tmp"
ROLLED_OUT_KEY = "rolled_out"  # scalar in a chunk file: episodes simulated (kept ones are stored)
CHUNK_KEYS = ARRAY_KEYS + ("rewards",)
# leading axes of each chunk array: "n" episodes, then T+1 or T steps
CHUNK_STEPS = {"observations": 1, "achieved_goals": 1, "desired_goals": 0, "actions": 0, "rewards": 0}


@dataclass(frozen=True)
class Done:
    """What a finished chunk holds: trajectories kept (all of them without a filter) and rolled out."""

    kept: int
    rolled_out: int


class ChunkStore:
    """Finished chunks by index. With a folder, each chunk is a file and the folder can be resumed."""

    def __init__(self, spec: TaskSpec, manifest: dict[str, Any], chunk_size: Callable[[int], int],
                 work_dir: str | os.PathLike | None):
        self.spec, self.manifest, self.chunk_size = spec, manifest, chunk_size
        self.filtered = manifest["keep"] is not None
        self.dir = None if work_dir is None else Path(work_dir)
        self.done: dict[int, Done] = {}
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
            write_text_atomic(manifest_path, json.dumps(self.manifest, indent=2, sort_keys=True))
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

    def _summary(self, path: Path, index: int) -> Done:
        arrays, rolled = self._read(path, index)
        return Done(len(arrays["actions"]), rolled)

    # ---- chunks ----
    def put(self, index: int, arrays: dict[str, np.ndarray], rolled: int) -> None:
        self.done[index] = Done(len(arrays["actions"]), rolled)
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


def write_text_atomic(path: Path, text: str) -> None:
    """Write a text file through a temporary file and a rename, so it is never seen half written."""
    tmp = path.with_name(path.name + TMP_SUFFIX)
    tmp.write_text(text)
    os.replace(tmp, path)


def parts_dir(out: str | os.PathLike) -> Path:
    """The work folder of a collection into `out` (OUT.npz -> OUT.parts)."""
    return Path(out).with_suffix(PARTS_SUFFIX)


__all__ = ["CHUNK_KEYS", "CHUNK_NAME", "CHUNK_RE", "MANIFEST_NAME", "PARTS_FORMAT", "PARTS_SUFFIX", "ChunkStore",
           "Done", "parts_dir", "write_text_atomic"]
