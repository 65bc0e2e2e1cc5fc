"""Intra- and inter-trajectory reanalysis with uncertainty filtering, and the reanalysis buffer."""
from goplan.batches import DeviceTrajectories, ReanalysedTrajectories, TransitionBatch
from goplan.reanalysis.buffer import TransitionBuffer
from goplan.reanalysis.reanalyse import (
    INTER_CASES, INTRA_CASES, ReanalysisContext, ReanalysisSettings, inter_pairs, inter_reanalysis, intra_reanalysis,
    intra_segments,
)
from goplan.reanalysis.rollout import REACHED, TIMEOUT, UNCERTAIN, Rollout, imagine

__all__ = [
    "INTER_CASES", "INTRA_CASES", "DeviceTrajectories", "REACHED", "ReanalysedTrajectories", "ReanalysisContext",
    "ReanalysisSettings", "Rollout", "TIMEOUT", "TransitionBatch", "TransitionBuffer", "UNCERTAIN", "imagine",
    "inter_pairs", "inter_reanalysis", "intra_reanalysis", "intra_segments",
]
