"""How well the pretrained prior learns, by normalisation rule and by the noise it acts with.

For each normalisation rule and seed: pretrain GOPlan (the preset's networks, `--updates` pretraining
updates) on one dataset, then evaluate the pretrained policy with each `act_z` (z = 0, one sampled z,
the mean of k sampled actions). Prints a Markdown table (mean and per-seed returns) and writes JSON.

    python benchmarks/prior_fidelity.py --task FetchReach --dataset data/FetchReach.npz --seeds 0 1 2
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from goplan import GOPlanAgent, make_config
from goplan.config import ACT_Z, NORMALIZATIONS
from goplan.data.dataset import TrajectoryDataset
from goplan.evaluation import evaluate
from goplan.experiments.train import EVAL_SEED_OFFSET, seed_everything


def pretrain_and_evaluate(task: str, data, preset: str, rule: str, seed: int, updates: int, episodes: int,
                          act_zs: list[str]) -> dict:
    cfg = make_config(preset, {"pretrain_updates": updates, "normalization": rule, "seed": seed,
                               "finetune_rounds": 0})
    seed_everything(seed)
    agent = GOPlanAgent(task, cfg)
    agent.set_dataset(data)
    start = time.time()
    untrained = evaluate(agent, episodes, "policy", seed=seed + EVAL_SEED_OFFSET)["return_mean"]
    for _ in range(updates):
        agent.pretrain_step()
    agent.guard.check("pretraining")
    seconds = time.time() - start
    returns = {}
    for act_z in act_zs:
        agent.cfg.act_z = act_z
        returns[act_z] = evaluate(agent, episodes, "policy", seed=seed + EVAL_SEED_OFFSET)["return_mean"]
    return {"rule": rule, "seed": seed, "untrained": untrained, "returns": returns, "seconds": round(seconds, 1)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", required=True)
    p.add_argument("--dataset", required=True)
    p.add_argument("--preset", default="cpu")
    p.add_argument("--updates", type=int, default=4000)
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--episodes", type=int, default=100)
    p.add_argument("--rules", nargs="+", default=list(NORMALIZATIONS), choices=NORMALIZATIONS)
    p.add_argument("--act-z", nargs="+", default=list(ACT_Z), choices=ACT_Z)
    p.add_argument("--json", help="write the rows here")
    args = p.parse_args()
    if args.updates < 1 or args.episodes < 1:
        p.error("--updates and --episodes must be at least 1")
    data = TrajectoryDataset.load(args.dataset)
    rows = []
    for rule in args.rules:
        for seed in args.seeds:
            row = pretrain_and_evaluate(args.task, data, args.preset, rule, seed, args.updates, args.episodes,
                                        args.act_z)
            print(json.dumps(row), flush=True)
            rows.append(row)
    print(f"\n{args.task}, {args.dataset}, preset {args.preset}, {args.updates} pretraining updates, "
          f"{args.episodes} episodes, torch threads {torch.get_num_threads()}")
    print("| normalisation | untrained | " + " | ".join(f"act_z={z}" for z in args.act_z) + " |")
    print("|---|---:|" + "---:|" * len(args.act_z))
    for rule in args.rules:
        mine = [r for r in rows if r["rule"] == rule]
        cells = [_cell([r["untrained"] for r in mine])]
        cells += [_cell([r["returns"][z] for r in mine]) for z in args.act_z]
        print(f"| {rule} | " + " | ".join(cells) + " |")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"task": args.task, "dataset": args.dataset, "preset": args.preset, "updates": args.updates,
                       "episodes": args.episodes, "rows": rows}, fh, indent=2)


def _cell(values: list[float]) -> str:
    mean = statistics.fmean(values)
    if len(values) == 1:
        return f"{mean:.2f}"
    return f"{mean:.2f} ({' / '.join(f'{v:.2f}' for v in values)})"


if __name__ == "__main__":
    main()
