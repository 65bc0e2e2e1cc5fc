"""What value_precision=bf16 does to V and to the advantage weights, against fp32 on the same network.

    python benchmarks/investigations/value_precision.py CHECKPOINT DATASET [--samples 8192] [--seed 0]

Loads a trained GOPlan agent and its dataset, draws relabelled (s, a, s', g) as pretraining does, and
evaluates V(s, g) and V(s', g) three ways: fp32; hidden layers in bf16 with the output layer in fp32
(value_precision=bf16); and every layer in bf16, output included, for comparison. Prints the error of V,
of beta * A, and the relative change of the advantage weights that the clip leaves below M.
"""
from __future__ import annotations

import argparse

import torch

from goplan.agents.goplan import GOPlanAgent
from goplan.data.dataset import TrajectoryDataset
from goplan.models.cgan import advantage_weight
from goplan.models.precision import matmul_precision


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("checkpoint")
    p.add_argument("dataset")
    p.add_argument("--samples", type=int, default=8192)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.manual_seed(args.seed)
    agent = GOPlanAgent.load(args.checkpoint, device="cpu", dataset=TrajectoryDataset.load(args.dataset))
    c, cpu, net = agent.cfg, torch.device("cpu"), agent.value.net
    s, _, s_next, g = agent.sample_offline(args.samples)
    r = agent.task.reward(agent.task.phi(s_next), g)
    sn, sn_next, gn = agent.state_norm(s), agent.state_norm(s_next), agent.goal_norm(g)
    with torch.no_grad():
        pairs = {"fp32": (agent.value(sn, gn), agent.value(sn_next, gn))}
        with matmul_precision(cpu, "bf16"):
            pairs["hidden bf16, output fp32"] = (agent.value(sn, gn), agent.value(sn_next, gn))
            pairs["all layers bf16"] = tuple(net(torch.cat([x, gn], -1)).float().squeeze(-1) for x in (sn, sn_next))
    v, v_next = pairs["fp32"]
    w, adv = advantage_weight(r, v, v_next, c.gamma, c.beta, c.weight_clip)
    print(f"hidden {c.hidden_dim}, {args.samples} samples: V from {v.min():.3f} to {v.max():.3f} (mean {v.mean():.3f}); "
          f"std of beta * A {(c.beta * adv).std():.3f}; mean weight {w.mean():.3f}")
    below_clip = w < c.weight_clip * 0.999
    for name in ("hidden bf16, output fp32", "all layers bf16"):
        vb, vb_next = pairs[name]
        wb, advb = advantage_weight(r, vb, vb_next, c.gamma, c.beta, c.weight_clip)
        err_v, err_a = (vb - v).abs(), (c.beta * (advb - adv)).abs()
        rel_w = ((wb - w).abs() / w.clamp(min=1e-6))[below_clip]
        print(f"{name:26s} |V error| median {err_v.median():.2e} max {err_v.max():.2e}; |beta dA| median "
              f"{err_a.median():.4f} p99 {err_a.quantile(0.99):.4f}; weight change median {rel_w.median():.2%} "
              f"p99 {rel_w.quantile(0.99):.2%}")


if __name__ == "__main__":
    main()
