"""Offline datasets: the trajectory type, collection, relabelling and format import.

    dataset.py        TrajectoryDataset: the arrays, their checks, npz + JSON card files
    formats.py        which loader reads a file, by suffix (the format modules register themselves)
    hdf5_io.py        HDF5 files (.h5/.hdf5)
    wgcsl_import.py   the original WGCSL/GOAT buffer.pkl, read safely
    minari_io.py      Minari datasets (export and import)
    collect/          making datasets: rollout, chunk store, process pool, scheduling
    sizes.py, ood.py  paper dataset sizes and names; the OOD groups and their IID regions
    catalog.py        `goplan datasets`: find and describe local datasets
    relabel.py        hindsight goal relabelling

Importing this package registers the built-in file formats (below), so `TrajectoryDataset.load`
reads every one of them however goplan.data was first imported.
"""
from goplan.data.dataset import ARRAY_KEYS, TrajectoryDataset

from goplan.data import hdf5_io, wgcsl_import  # noqa: F401  (importing them registers their file formats)

__all__ = ["ARRAY_KEYS", "TrajectoryDataset"]
