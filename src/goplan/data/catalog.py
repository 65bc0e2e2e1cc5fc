"""`goplan datasets`: find local datasets (npz files and their JSON cards) and describe them.

Folders searched by default: `data/` (with its subfolders) and the current folder (not its
subfolders). Each dataset is listed with its card's task, size, behaviour success, noise and seed, and
whether its arrays still match the card's sha256 checksum. Unfinished collections (`OUT.parts/`
work folders) are listed too, as `incomplete`.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from goplan.errors import DatasetError

DEFAULT_DIRS = (("data", True), (".", False))  # (folder, search its subfolders)
DATASET_GLOB = "*.npz"
MISSING = "-"
STATUS_OK = "ok"
STATUS_MISMATCH = "MISMATCH"
STATUS_NO_CARD = "no card"
STATUS_NO_CHECKSUM = "no checksum"
STATUS_UNVERIFIED = "not checked"
STATUS_UNREADABLE = "unreadable"
STATUS_INCOMPLETE = "incomplete"
COLUMNS = ("file", "task", "episodes", "transitions", "success", "noise", "seed", "checksum")


@dataclass
class DatasetEntry:
    path: Path
    task: str = MISSING
    episodes: int | None = None
    transitions: int | None = None
    success: float | None = None
    noise: float | None = None
    seed: int | None = None
    checksum: str = STATUS_UNVERIFIED
    detail: str = ""  # why a file is unreadable, or the chunks of an unfinished collection

    def cells(self) -> tuple[str, ...]:
        fmt = lambda v, spec="": MISSING if v is None else format(v, spec)  # noqa: E731
        status = f"{self.checksum} ({self.detail})" if self.detail else self.checksum
        return (str(self.path), self.task, fmt(self.episodes), fmt(self.transitions), fmt(self.success, ".3f"),
                fmt(self.noise, "g"), fmt(self.seed), status)


def _read_card(path: Path) -> dict[str, Any] | None:
    card_path = path.with_suffix(".json")
    if not card_path.is_file():
        return None
    try:
        card = json.loads(card_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError, OSError):
        return None
    return card if isinstance(card, dict) else None


def _number(card: dict[str, Any], key: str, kind: type) -> Any:
    value = card.get(key)
    return kind(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def describe_dataset(path: Path, verify: bool = True) -> DatasetEntry:
    """One npz dataset: its card's facts and, with verify, whether its arrays match the card's checksum."""
    from goplan.data.dataset import TrajectoryDataset

    entry = DatasetEntry(path)
    card = _read_card(path)
    if card is not None:
        entry.task = str(card.get("task", MISSING))
        entry.episodes = _number(card, "episodes", int)
        entry.transitions = _number(card, "transitions", int)
        entry.success = _number(card, "behaviour_success_rate", float)
        entry.noise = _number(card, "noise_std", float)
        entry.seed = _number(card, "seed", int)
    if not verify:
        entry.checksum = STATUS_UNVERIFIED if card is not None else STATUS_NO_CARD
        return entry
    try:
        ds = TrajectoryDataset.load(path)
    except DatasetError as exc:
        entry.checksum, entry.detail = STATUS_UNREADABLE, str(exc).removeprefix(f"{path}: ")
        return entry
    entry.episodes, entry.transitions = ds.num_episodes, ds.num_transitions
    if card is None:
        entry.checksum = STATUS_NO_CARD
    elif "sha256" not in card:
        entry.checksum = STATUS_NO_CHECKSUM
    else:
        entry.checksum = STATUS_OK if ds.checksum() == card["sha256"] else STATUS_MISMATCH
    return entry


def describe_parts(folder: Path) -> DatasetEntry:
    """An unfinished collection's work folder, from its manifest."""
    from goplan.data.collect import CHUNK_RE, MANIFEST_NAME

    entry = DatasetEntry(folder, checksum=STATUS_INCOMPLETE)
    try:
        manifest = json.loads((folder / MANIFEST_NAME).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError, OSError):
        manifest = {}
    if not isinstance(manifest, dict):
        manifest = {}
    entry.task = str(manifest.get("task", MISSING))
    entry.episodes = _number(manifest, "episodes", int)
    entry.noise = _number(manifest, "noise_std", float)
    entry.seed = _number(manifest, "seed", int)
    chunks = sum(1 for p in folder.iterdir() if CHUNK_RE.fullmatch(p.name))
    entry.detail = f"{chunks} chunks done; rerun the collect command to finish"
    return entry


def find_datasets(dirs: list[str | os.PathLike] | None = None, verify: bool = True) -> list[DatasetEntry]:
    """Datasets under `dirs` (searched with subfolders), or under the default folders."""
    from goplan.data.collect import PARTS_SUFFIX

    if dirs:
        for d in dirs:
            if not Path(d).is_dir():
                raise DatasetError(f"{d}: no such folder")
        searches = [(Path(d), True) for d in dirs]
    else:
        searches = [(Path(d), recursive) for d, recursive in DEFAULT_DIRS if Path(d).is_dir()]
    seen: set[Path] = set()
    entries: list[DatasetEntry] = []
    for folder, recursive in searches:
        found = folder.rglob(DATASET_GLOB) if recursive else folder.glob(DATASET_GLOB)
        parts = folder.rglob("*" + PARTS_SUFFIX) if recursive else folder.glob("*" + PARTS_SUFFIX)
        for path in sorted(found) + sorted(parts):
            key = path.resolve()
            if key in seen:
                continue
            seen.add(key)
            if path.is_dir() and path.suffix == PARTS_SUFFIX:
                entries.append(describe_parts(path))
            elif path.is_file() and PARTS_SUFFIX not in (p.suffix for p in path.parents):
                entries.append(describe_dataset(path, verify))
    return entries


def format_table(entries: list[DatasetEntry]) -> str:
    rows = [COLUMNS] + [e.cells() for e in entries]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS) - 1)]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1] for row in rows)


__all__ = ["DatasetEntry", "find_datasets", "describe_dataset", "describe_parts", "format_table"]
