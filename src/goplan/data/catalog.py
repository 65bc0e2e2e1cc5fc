"""`goplan datasets`: find local datasets (npz files and their JSON cards) and describe them.

Folders searched by default: `data/` (with its subfolders) and the current folder (not its
subfolders). Each dataset is listed with its card's task, size, behaviour success, noise and seed, and
whether its arrays still match the card's sha256 checksum. Unfinished collections (`OUT.parts/`
work folders) are listed too, as `incomplete`.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from goplan.data.collect.chunks import CHUNK_RE, MANIFEST_NAME, PARTS_SUFFIX
from goplan.data.dataset import TrajectoryDataset, read_json_object
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


def _json_object_or_none(path: Path) -> dict[str, Any] | None:
    """A JSON object from a file, or None when the file is missing or is not one (listing never fails)."""
    if not path.is_file():
        return None
    try:
        return read_json_object(path, "file")
    except DatasetError:
        return None


def _number(card: dict[str, Any], key: str, kind: type) -> Any:
    value = card.get(key)
    return kind(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _fill(entry: "DatasetEntry", facts: dict[str, Any]) -> None:
    """The task, size, noise and seed that a card or a collection manifest records."""
    entry.task = str(facts.get("task", MISSING))
    entry.episodes = _number(facts, "episodes", int)
    entry.noise = _number(facts, "noise_std", float)
    entry.seed = _number(facts, "seed", int)


def describe_dataset(path: Path, verify: bool = True) -> DatasetEntry:
    """One npz dataset: its card's facts and, with verify, whether its arrays match the card's checksum."""
    entry = DatasetEntry(path)
    card = _json_object_or_none(path.with_suffix(".json"))
    if card is not None:
        _fill(entry, card)
        entry.transitions = _number(card, "transitions", int)
        entry.success = _number(card, "behaviour_success_rate", float)
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
    entry = DatasetEntry(folder, checksum=STATUS_INCOMPLETE)
    _fill(entry, _json_object_or_none(folder / MANIFEST_NAME) or {})
    chunks = sum(1 for p in folder.iterdir() if CHUNK_RE.fullmatch(p.name))
    entry.detail = f"{chunks} chunks done; rerun the collect command to finish"
    return entry


def find_datasets(dirs: list[str | os.PathLike] | None = None, verify: bool = True) -> list[DatasetEntry]:
    """Datasets under `dirs` (searched with subfolders), or under the default folders."""
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
