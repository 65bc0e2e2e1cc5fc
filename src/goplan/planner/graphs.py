"""Test-time planning (GOPlan2) replayed from CUDA graphs.

One call of Algorithm 2 launches some thirty small kernels per planning step, several hundred in
all. For one state (C * H = 200 rollout rows) launching them costs far more than running them, so
the control rate is bounded by Python and the launch queue, not by the GPU. Captured once per batch
shape into a torch.cuda.CUDAGraph, a plan becomes: copy the inputs into the graph's own tensors,
launch the graph, copy the result out.

What the graph sees:
- the networks' weights and the normalisers in place: optimiser steps, load_state_dict and
  Normalizer.fit all write in place, so training between calls is seen by the next replay;
- random numbers from the default CUDA generator, which capture registers and every replay
  advances: each replay draws fresh candidates, noise and ensemble members, as an eager call does
  (other numbers than an eager call would draw, with the same distribution).
Shapes are fixed per graph, so graphs are kept for a few batch shapes (least recently used
dropped). Where capture fails, the planner says so once and plans eagerly from then on.
"""
from __future__ import annotations

import warnings
from collections import OrderedDict
from dataclasses import dataclass

import torch

from goplan.errors import first_line

MAX_GRAPHS = 4  # batch shapes whose graphs are kept
WARMUP_CALLS = 2  # eager calls on a side stream before capture (library handles, allocator pools)


@dataclass
class _Graph:
    graph: torch.cuda.CUDAGraph
    s: torch.Tensor  # the graph's input tensors: copied into before every replay
    g: torch.Tensor
    out: torch.Tensor  # written by every replay


class GraphedPlans:
    def __init__(self, planner, max_graphs: int = MAX_GRAPHS):
        self.planner = planner
        self.max_graphs = max_graphs
        self.graphs: OrderedDict[tuple, _Graph] = OrderedDict()
        self.failed: str | None = None  # why capture failed, once it has

    @torch.no_grad()
    def __call__(self, s_norm: torch.Tensor, g_raw: torch.Tensor) -> torch.Tensor:
        if self.failed is not None:
            return self.planner.plan(s_norm, g_raw)
        key = (tuple(s_norm.shape), tuple(g_raw.shape), s_norm.dtype, g_raw.dtype, s_norm.device,
               self.planner.policy.training)
        entry = self.graphs.get(key)
        if entry is None:
            try:
                entry = self._capture(s_norm, g_raw)
            except Exception as exc:  # noqa: BLE001  (any capture failure: fall back to eager, say why once)
                self.failed = first_line(exc)
                warnings.warn(f"CUDA graph capture of the planner failed ({self.failed}); planning eagerly",
                              RuntimeWarning, stacklevel=3)
                return self.planner.plan(s_norm, g_raw)
            self.graphs[key] = entry
            if len(self.graphs) > self.max_graphs:
                self.graphs.popitem(last=False)
        else:
            self.graphs.move_to_end(key)
        entry.s.copy_(s_norm)
        entry.g.copy_(g_raw)
        entry.graph.replay()
        return entry.out.clone()

    def _capture(self, s_norm: torch.Tensor, g_raw: torch.Tensor) -> _Graph:
        s, g = s_norm.clone(), g_raw.clone()
        run = lambda: self.planner._plan(s, g, None, autocast_cache=False)  # noqa: E731
        side = torch.cuda.Stream(device=s.device)
        side.wait_stream(torch.cuda.current_stream(s.device))
        with torch.cuda.stream(side):
            for _ in range(WARMUP_CALLS):
                run()
        torch.cuda.current_stream(s.device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            out = run()
        return _Graph(graph, s, g, out)
