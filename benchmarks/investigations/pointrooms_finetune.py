"""Diagnostic: finetuning on PointRooms with the learned ensemble or with the true physics.

From one pretrained agent (the demo's data and `cpu` preset with optional `--set key=value` overrides,
cached in --cache), run the reanalysis and finetuning rounds with B_re sampled by trajectory or by
transition. The dynamics that reanalysis and the planner step in are either the learned ensemble or
the true PointRooms physics. The true physics has no disagreement, so nothing is filtered as
uncertain. It prints the policy's return after every round, and the fraction of each reanalysis case.

`--diagnose` first prints where the pretrained policy fails: the return of the noise-free behaviour
policy (the ceiling), the policy's success rate and mean first-success step, where failed episodes
end, and how much the policy's action varies with its noise z at three start/goal pairs that need a
way around the walls (the planner can only choose among the actions the prior proposes), and, with the
learned model, where the ensemble lets imagined paths through the walls and its one-step error around
the walls and on the data. `--extra-dynamics N` trains the ensemble alone N more updates first; `--random P`
changes the data's random-action probability (the demo's by default). `--gcsl`
also trains the GCSL baseline with the same settings and data and prints its return.

    python benchmarks/investigations/pointrooms_finetune.py --model true --sampling transition --seed 0
    python benchmarks/investigations/pointrooms_finetune.py --model learned --set lr=1e-3 --diagnose --gcsl
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from goplan.agents.gcsl import GCSLAgent
from goplan.agents.goplan import GOPlanAgent
from goplan.config import make_config
from goplan.data.collect import collect
from goplan.data.dataset import TrajectoryDataset
from goplan.errors import GOPlanError
from goplan.evaluation import evaluate
from goplan.experiments.demo import DETOUR_PROB, EPISODES, NAIVE_PROB, PRESET, RANDOM_PROB, TASK
from goplan.experiments.train import EVAL_SEED_OFFSET
from goplan.reanalysis.rollout import REACHED, imagine
from goplan.tasks import point
from goplan.tasks.registry import get_task

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
        pos = point.move(pos, a.cpu().numpy())
        return norm(torch.as_tensor(pos, dtype=torch.float32, device=s_norm.device))

    dyn.all_members = lambda s, a: step(s, a).unsqueeze(0).expand(dyn.members, -1, -1)
    dyn.sample_next = lambda s, a, generator=None: step(s, a)


def pretrained(seed: int, cache: Path, overrides: list[str],
               random_prob: float = RANDOM_PROB) -> tuple[Path, TrajectoryDataset]:
    cache.mkdir(parents=True, exist_ok=True)
    tag = "".join(f"_{o.replace('=', '-')}" for o in overrides)
    kind = f"detour{DETOUR_PROB}_naive{NAIVE_PROB}_random{random_prob}"  # the demo's data settings
    data_path = cache / f"rooms_seed{seed}_{kind}.npz"
    ckpt = cache / f"pretrained_seed{seed}_{kind}{tag}.safetensors"
    if not data_path.exists():
        collect(TASK, EPISODES, seed, detour_prob=DETOUR_PROB, naive_prob=NAIVE_PROB, random_prob=random_prob,
                progress=False).save(data_path)
    data = TrajectoryDataset.load(data_path)
    if not ckpt.exists():
        torch.manual_seed(seed)
        agent = GOPlanAgent(TASK, make_config(PRESET, [*overrides, f"seed={seed}"]), device="cpu")
        agent.fit(data, progress=False, stop_after_pretrain=True)
        agent.save(ckpt, with_buffer=True)
    return ckpt, data


# start/goal pairs on opposite sides of the walls: the straight line runs into them
DETOUR_PAIRS = (((3.0, 3.0), (-3.0, -3.0)), ((0.65, -0.65), (-2.0, 2.0)), ((2.0, -3.0), (-2.0, 3.0)))
Z_SAMPLES = 500
WALL_CONTACT = 0.05  # a final position this close to a wall's blocked box counts as resting against it


def rollout_rewards(policy, episodes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Rewards (episodes, T) and final positions of a policy(obs) -> actions on PointRooms."""
    env = get_task(TASK).make_vec_env(episodes, seed=seed)
    obs = env.reset(seed=seed)
    rewards = np.zeros((episodes, point.MAX_STEPS))
    for t in range(point.MAX_STEPS):
        obs, rewards[:, t] = env.step(policy(obs))
    return rewards, obs["achieved_goal"]


def failures(name: str, agent, episodes: int, seed: int) -> None:
    """Return, success and where the failed episodes of an agent's policy end."""
    rewards, final = rollout_rewards(lambda o: agent.act(o["observation"], o["desired_goal"]), episodes, seed)
    reached = rewards.any(axis=1)
    first = np.where(reached, rewards.argmax(axis=1), point.MAX_STEPS)
    print(f"{name}: return {rewards.sum(1).mean():.2f}, success {reached.mean():.2f}, mean first "
          f"success at step {first.mean():.2f}; {int((~reached).sum())} episodes never reach their goal")
    ax, ay = np.abs(final[~reached, 0]), np.abs(final[~reached, 1])
    near = WALL_CONTACT
    at_wall = (((ax < point.BLOCK_LONG + near) & (ay < point.BLOCK_SHORT + near))
               | ((ax < point.BLOCK_SHORT + near) & (ay < point.BLOCK_LONG + near)))
    corner = (np.abs(ax - point.BLOCK_SHORT) < near) & (np.abs(ay - point.BLOCK_SHORT) < near)
    print(f"  of those, {int(at_wall.sum())} end against a wall, {int(corner.sum())} of them in an inner corner "
          f"(|x| = |y| = {point.BLOCK_SHORT:.2f})")


def diagnose(agent: GOPlanAgent, episodes: int, seed: int) -> None:
    oracle, _ = rollout_rewards(point.rooms_policy, episodes, seed)
    print(f"noise-free behaviour policy: return {oracle.sum(1).mean():.2f}, mean first success at step "
          f"{np.where(oracle.any(1), oracle.argmax(1), point.MAX_STEPS).mean():.2f}")
    failures("pretrained policy (z = 0)", agent, episodes, seed)
    for start, goal in DETOUR_PAIRS:
        s = np.tile(np.asarray(start, np.float32), (Z_SAMPLES, 1))
        g = np.tile(np.asarray(goal, np.float32), (Z_SAMPLES, 1))
        acts = agent.act(s, g, deterministic=False)
        print(f"  action at {start} toward {goal}: z = 0 gives {np.round(agent.act(s[0], g[0]), 2)}, "
              f"random z: mean {np.round(acts.mean(0), 2)}, std {np.round(acts.std(0), 3)}")


UNC_QUANTILES = (0.5, 0.99, 0.999)


def _blocked(pos: np.ndarray, nxt: np.ndarray, act: np.ndarray) -> np.ndarray:
    """Moves that covered less than half of what the action asked for: a wall stopped them."""
    return np.linalg.norm(nxt - pos, axis=1) < 0.5 * np.linalg.norm(point.ACTION_SCALE * act, axis=1)


@torch.no_grad()
def probe_model(agent: GOPlanAgent, data: TrajectoryDataset, seed: int) -> None:
    """Where the learned ensemble is wrong: plan-and-step in it (as reanalysis does, no uncertainty
    stop) between the detour pairs, count imagined states that lie inside a wall, and compare the
    disagreement (Eq. 4) along the way with its spread over the dataset's own transitions."""
    torch.manual_seed(seed)
    starts = torch.tensor([p[0] for p in DETOUR_PAIRS], dtype=torch.float32)
    goals = torch.tensor([p[1] for p in DETOUR_PAIRS], dtype=torch.float32)
    k = len(DETOUR_PAIRS)
    # all pairs in one batch, as reanalysis does
    roll = imagine(agent.planner, agent.dynamics, agent.state_norm(starts), goals,
                   torch.full((k,), point.MAX_STEPS), float("inf"), agent.cfg.reanalysis_transition)
    steps = roll.actions.shape[1]
    taken = torch.arange(steps).unsqueeze(0) < roll.lengths.unsqueeze(1)  # (k, L) steps each row took
    visited = torch.cat([torch.ones(k, 1, dtype=torch.bool), taken], dim=1)  # (k, L + 1) its states
    in_wall = torch.as_tensor(point.in_walls(agent.state_norm.unnormalize(roll.states).numpy())) & visited
    unc = agent.dynamics.disagreement(agent.dynamics.all_members(
        roll.states[:, :-1].reshape(k * steps, -1), roll.actions.reshape(k * steps, -1))).view(k, steps)
    largest = torch.where(taken, unc, torch.zeros_like(unc)).amax(dim=1)
    for i, (start, goal) in enumerate(DETOUR_PAIRS):
        print(f"  imagined from {start} toward {goal}: {'reached' if int(roll.outcome[i]) == REACHED else 'not reached'} "
              f"in {int(roll.lengths[i])} steps, {int(in_wall[i].sum())} imagined states inside a wall, largest "
              f"disagreement {largest[i]:.5f}")
    # every member on the dataset's own transitions, once: their disagreement here, their mean's
    # one-step error in probe_one_step
    obs, act, nxt = (x.reshape(-1, x.shape[-1]) for x in (data.observations[:, :-1], data.actions,
                                                          data.observations[:, 1:]))
    members = agent.dynamics.all_members(agent.state_norm(torch.as_tensor(obs, dtype=torch.float32)),
                                         torch.as_tensor(act, dtype=torch.float32))
    q = torch.quantile(agent.dynamics.disagreement(members), torch.tensor(UNC_QUANTILES))
    print("  disagreement on the dataset's transitions: " +
          ", ".join(f"{100 * p:g}% quantile {v:.5f}" for p, v in zip(UNC_QUANTILES, q.tolist())) +
          f" (threshold u = {agent.cfg.uncertainty_threshold})")
    probe_one_step(agent, obs, act, nxt, agent.state_norm.unnormalize(members.mean(dim=0)).numpy(), seed)


NEAR_WALLS = 2.5  # probe positions with |x|, |y| below this: the walls' blocked boxes and their surroundings
PROBE_STATES = 4000
PROBE_NOISE = 0.2  # action noise around "straight at the centre", as the behaviour data's


@torch.no_grad()
def probe_one_step(agent: GOPlanAgent, obs: np.ndarray, act_d: np.ndarray, nxt: np.ndarray, pred_d: np.ndarray,
                   seed: int) -> None:
    """One-step error of the ensemble's mean prediction against the true physics: on free positions
    around the walls with actions aimed at the centre (into the walls, or sliding along them), and on
    the dataset's transitions (obs, act_d -> nxt; pred_d is the ensemble mean's prediction there)."""
    rng = np.random.default_rng(seed)
    pos = point.sample_free(8 * PROBE_STATES, rng, True)
    pos = pos[(np.abs(pos) < NEAR_WALLS).all(axis=1)][:PROBE_STATES].astype(np.float64)
    aim = -pos / np.linalg.norm(pos, axis=1, keepdims=True)
    act = np.clip(aim + rng.normal(0.0, PROBE_NOISE, pos.shape), -point.ACTION_LIMIT, point.ACTION_LIMIT)
    true_next = point.move(pos, act)
    sn = agent.state_norm(torch.as_tensor(pos, dtype=torch.float32))
    pred = agent.state_norm.unnormalize(
        agent.dynamics.all_members(sn, torch.as_tensor(act, dtype=torch.float32)).mean(dim=0)).numpy()
    err = np.linalg.norm(pred - true_next, axis=1)
    blocked = _blocked(pos, true_next, act)
    print(f"  one-step error around the walls ({len(pos)} free positions with |x|, |y| < {NEAR_WALLS}, actions "
          f"aimed at the centre): mean {err.mean():.3f}, 90% quantile {np.quantile(err, 0.9):.3f}; on the "
          f"{blocked.mean():.0%} of moves a wall blocks: mean {err[blocked].mean():.3f}; predictions inside a wall: "
          f"{point.in_walls(pred).mean():.0%}")
    err_d = np.linalg.norm(pred_d - nxt, axis=1)
    print(f"  one-step error on the dataset's transitions: mean {err_d.mean():.4f}, 99% quantile "
          f"{np.quantile(err_d, 0.99):.3f}")
    blocked_d = _blocked(obs, nxt, act_d)
    corner = (np.abs(np.abs(obs) - point.BLOCK_SHORT) < WALL_CONTACT).all(axis=1)
    print(f"  wall contact in the dataset: a wall blocks {blocked_d.mean():.1%} of its moves, "
          f"{(blocked_d & corner).sum() / max(1, blocked_d.sum()):.0%} of those in an inner corner")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=("learned", "true"), default="learned")
    p.add_argument("--sampling", choices=("trajectory", "transition"), default="trajectory")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rounds", type=int, default=None, help="default: the preset's")
    p.add_argument("--cache", default="runs/pointrooms_finetune", help="folder for the dataset and pretrained agent")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="settings over the cpu preset")
    p.add_argument("--ft", nargs="*", default=[], metavar="KEY=VALUE",
                   help="settings for the reanalysis and finetuning rounds only (those read while they run, "
                        "e.g. inter_goal, uncertainty_threshold, intra_per_round, and the planner's)")
    p.add_argument("--episodes", type=int, default=EVAL_EPISODES, help="evaluation episodes")
    p.add_argument("--diagnose", action="store_true", help="first print where the pretrained policy fails")
    p.add_argument("--gcsl", action="store_true", help="also train and evaluate GCSL with the same settings")
    p.add_argument("--random", type=float, default=RANDOM_PROB, metavar="P",
                   help=f"the data's random-action probability (default the demo's, {RANDOM_PROB})")
    p.add_argument("--extra-dynamics", type=int, default=0, metavar="N",
                   help="train the ensemble alone for N more updates (batch and learning rate of the settings) "
                        "after pretraining, before the diagnosis and the rounds")
    args = p.parse_args()
    ckpt, data = pretrained(args.seed, Path(args.cache), args.set, args.random)
    eval_seed = args.seed + EVAL_SEED_OFFSET
    if args.gcsl:
        torch.manual_seed(args.seed)
        gcsl = GCSLAgent(TASK, make_config(PRESET, [*args.set, f"seed={args.seed}"]), device="cpu")
        gcsl.fit(data, progress=False)
        print(f"GCSL{''.join(' ' + o for o in args.set)}: return {evaluate(gcsl, args.episodes, 'policy', seed=eval_seed)['return_mean']:.2f}",
              flush=True)
        if args.diagnose:
            failures("GCSL", gcsl, args.episodes, eval_seed)
    agent = GOPlanAgent.load(ckpt, device="cpu")
    if args.ft:
        agent.cfg = make_config(agent.cfg.preset, [f"{k}={v}" for k, v in agent.cfg.to_dict().items()
                                                   if k != "preset"] + args.ft)
        agent.planner = agent.make_planner()  # planning settings (C, H, K, kappa) may have changed
    agent.cfg.reanalysis_sampling = agent.buffer.sampling = args.sampling
    agent.set_dataset(data, fit_normalizers=False)
    for _ in range(args.extra_dynamics):
        s, a, s_next, _ = agent.sample_offline(agent.cfg.batch_size)
        agent.dynamics_step(agent.state_norm(s), a, agent.state_norm(s_next))
    if args.model == "true":
        use_true_physics(agent)
    if args.diagnose:
        diagnose(agent, args.episodes, eval_seed)
        if args.model == "learned":
            probe_model(agent, data, args.seed)
    ev = lambda: evaluate(agent, args.episodes, "policy", seed=eval_seed)["return_mean"]  # noqa: E731
    print(f"model={args.model} sampling={args.sampling} seed={args.seed}{''.join(' ' + o for o in args.set + args.ft)}: "
          f"pretrained return "
          f"{ev():.2f}", flush=True)
    for rnd in range(1, (agent.cfg.finetune_rounds if args.rounds is None else args.rounds) + 1):
        stats = agent.reanalyse()
        for _ in range(agent.cfg.finetune_updates):
            agent.finetune_step()
        cases = " ".join(f"{k[5:]}={v:.2f}" for k, v in stats.items() if k.startswith("case_"))
        print(f"round {rnd}: {cases}; policy return {ev():.2f}", flush=True)


if __name__ == "__main__":
    try:
        main()
    except GOPlanError as exc:  # a bad --set or --ft value: one line, as the goplan command does
        print(f"pointrooms_finetune.py: error: {exc}", file=sys.stderr)
        sys.exit(2)
