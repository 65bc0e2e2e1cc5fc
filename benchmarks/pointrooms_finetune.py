"""Diagnostic: finetuning on PointRooms with the learned ensemble or with the true physics.

From one pretrained agent (the demo's data and `cpu` preset, cached in --cache), run the reanalysis and
finetuning rounds with B_re sampled by trajectory or by transition. The dynamics that reanalysis and
the planner step in are either the learned ensemble or the true PointRooms physics. The true physics
has no disagreement, so nothing is filtered as uncertain. It prints the policy's return after every
round (100 evaluation episodes), and the fraction of each reanalysis case.

    python benchmarks/pointrooms_finetune.py --model true --sampling transition --seed 0
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from goplan.agents.goplan import GOPlanAgent
from goplan.config import make_config
from goplan.data.collect import collect
from goplan.data.dataset import TrajectoryDataset
from goplan.evaluation import evaluate
from goplan.experiments.demo import DETOUR_PROB, EPISODES, NAIVE_PROB, PRESET, TASK
from goplan.experiments.train import EVAL_SEED_OFFSET
from goplan.tasks import point

EVAL_EPISODES = 100
NUDGE = 1e-4  # how far a state that round-off put inside a wall is moved back out


def _free(pos: np.ndarray) -> np.ndarray:
    """Move positions that float round-off put just inside a wall out by the shortest way."""
    inside = point.in_walls(pos)
    if not inside.any():
        return pos
    best, moved = pos.copy(), np.full(len(pos), np.inf)
    for axis in range(point.DIM):
        for edge in (point.BLOCK_SHORT, point.BLOCK_LONG):
            cand = pos.copy()
            cand[:, axis] = np.copysign(edge + NUDGE, pos[:, axis])
            dist = np.abs(cand[:, axis] - pos[:, axis])
            ok = point.is_free(cand, True) & (dist < moved)
            best[ok], moved[ok] = cand[ok], dist[ok]
    return np.where(inside[:, None], best, pos)


def use_true_physics(agent: GOPlanAgent) -> None:
    """Make every ensemble member predict the true PointRooms step (in normalised state space)."""
    norm, dyn = agent.state_norm, agent.dynamics

    def step(s_norm: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        pos = _free(np.clip(norm.unnormalize(s_norm).cpu().numpy(), -point.POS_LIMIT, point.POS_LIMIT))
        delta = point.ACTION_SCALE * np.clip(a.cpu().numpy().astype(np.float64), -point.ACTION_LIMIT,
                                             point.ACTION_LIMIT)
        for axis in range(point.DIM):
            pos = point._move_axis(pos, delta[:, axis], axis, True)
        return norm(torch.as_tensor(pos, dtype=torch.float32, device=s_norm.device))

    dyn.all_members = lambda s, a: step(s, a).unsqueeze(0).expand(dyn.members, -1, -1)
    dyn.sample_next = lambda s, a, generator=None: step(s, a)


def pretrained(seed: int, cache: Path) -> tuple[Path, TrajectoryDataset]:
    cache.mkdir(parents=True, exist_ok=True)
    data_path, ckpt = cache / f"rooms_seed{seed}.npz", cache / f"pretrained_seed{seed}.safetensors"
    if not data_path.exists():
        collect(TASK, EPISODES, seed, detour_prob=DETOUR_PROB, naive_prob=NAIVE_PROB, progress=False).save(data_path)
    data = TrajectoryDataset.load(data_path)
    if not ckpt.exists():
        torch.manual_seed(seed)
        agent = GOPlanAgent(TASK, make_config(PRESET, {"seed": seed}), device="cpu")
        agent.fit(data, progress=False, stop_after_pretrain=True)
        agent.save(ckpt, with_buffer=True)
    return ckpt, data


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=("learned", "true"), default="learned")
    p.add_argument("--sampling", choices=("trajectory", "transition"), default="trajectory")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rounds", type=int, default=None, help="default: the preset's")
    p.add_argument("--cache", default="runs/pointrooms_finetune", help="folder for the dataset and pretrained agent")
    args = p.parse_args()
    ckpt, data = pretrained(args.seed, Path(args.cache))
    agent = GOPlanAgent.load(ckpt, device="cpu")
    agent.cfg.reanalysis_sampling = agent.buffer.sampling = args.sampling
    agent.set_dataset(data, fit_normalizers=False)
    if args.model == "true":
        use_true_physics(agent)
    ev = lambda: evaluate(agent, EVAL_EPISODES, "policy", seed=args.seed + EVAL_SEED_OFFSET)["return_mean"]  # noqa: E731
    print(f"model={args.model} sampling={args.sampling} seed={args.seed}: pretrained return {ev():.2f}", flush=True)
    for rnd in range(1, (args.rounds or agent.cfg.finetune_rounds) + 1):
        stats = agent.reanalyse()
        for _ in range(agent.cfg.finetune_updates):
            agent.finetune_step()
        cases = " ".join(f"{k[5:]}={v:.2f}" for k, v in stats.items() if k.startswith("case_"))
        print(f"round {rnd}: {cases}; policy return {ev():.2f}", flush=True)


if __name__ == "__main__":
    main()
