"""Dataset file formats: which loader reads a dataset file, chosen by the file's suffix.

A format module registers its loader here when it is imported (`hdf5_io`: .h5/.hdf5, `wgcsl_import`:
.pkl/.pickle); `goplan/data/__init__.py` imports every built-in format module, and Python runs a
package's `__init__` before any of its modules, so the registry is full whenever `goplan.data` is in
use. `TrajectoryDataset.load` asks `loader_for(path)` and reads a file that no format claims as
goplan's own npz (whose zip magic it checks itself).

This module imports no other goplan.data module: the format modules import it, and it imports none
of them, so no import cycle can pass through it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from goplan.errors import ConfigError

Loader = Callable[[Path], Any]  # path -> TrajectoryDataset; any defect raises one DatasetError naming the file


@dataclass(frozen=True)
class DatasetFormat:
    """One registered file format: its name, the suffixes it claims and its loader."""

    name: str
    suffixes: tuple[str, ...]
    loader: Loader


_BY_SUFFIX: dict[str, DatasetFormat] = {}


def register_format(name: str, suffixes: tuple[str, ...], loader: Loader) -> DatasetFormat:
    """Claim `suffixes` (lower case, with the dot) for `loader`. Registering the same format again (a module
    imported twice) replaces it; a suffix claimed by another format is a ConfigError."""
    fmt = DatasetFormat(name, tuple(suffixes), loader)
    for suffix in fmt.suffixes:
        taken = _BY_SUFFIX.get(suffix)
        if taken is not None and taken.name != name:
            raise ConfigError(f"dataset format {name!r}: suffix {suffix!r} is already read by format {taken.name!r}")
    for suffix in fmt.suffixes:
        _BY_SUFFIX[suffix] = fmt
    return fmt


def format_for(path: str | os.PathLike) -> DatasetFormat | None:
    """The registered format whose suffix `path` has (case as written), or None: read it as npz."""
    return _BY_SUFFIX.get(Path(path).suffix)


def loader_for(path: str | os.PathLike) -> Loader | None:
    """The loader of the registered format that claims `path`'s suffix, or None."""
    fmt = format_for(path)
    return None if fmt is None else fmt.loader


def registered_formats() -> list[DatasetFormat]:
    """Every registered format, once each, by name."""
    return sorted({fmt.name: fmt for fmt in _BY_SUFFIX.values()}.values(), key=lambda fmt: fmt.name)


__all__ = ["DatasetFormat", "Loader", "format_for", "loader_for", "register_format", "registered_formats"]
