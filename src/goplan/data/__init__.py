"""Offline datasets: the trajectory type, collection, relabelling and format import."""
from goplan.data.dataset import ARRAY_KEYS, TrajectoryDataset

__all__ = ["ARRAY_KEYS", "TrajectoryDataset"]
