"""`goplan demo`: the whole pipeline on PointRooms on a CPU in minutes.

Collects a PointRooms dataset, trains GOPlan (pretraining, reanalysis and finetuning, evaluating as
it goes), trains the GCSL baseline on the same data for as many updates, and prints a table next to
the paper's numbers. Uses the `cpu` preset: smaller networks, fewer updates and smaller planning
sizes than the paper (see goplan/config.py), said in the output.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

from goplan.data.collect import collect
from goplan.experiments.train import train

TASK = "PointRooms"
EPISODES = 2000  # 1e5 transitions, the paper's dataset size for the low-dimensional tasks
NOISE_STD = 0.2
# The benchmark's data came from an imperfect learned (DDPG) policy: behaviour cloning scores 33 on
# PointRooms in the paper, far below what a perfect controller gets (about 46). The demo dataset
# mixes the competent controller with the two kinds of imperfection such a policy has (see
# `goplan collect --help`): detours through a random waypoint and naive straight-line episodes.
DETOUR_PROB = 0.5
NAIVE_PROB = 0.5
# and, at every step, the exploration of the DDPG + HER agents behind the benchmark's data: with
# probability 0.3 a uniformly random action (random_eps = 0.3 beside their Gaussian noise_eps = 0.2 in
# the HER baselines), which brings GCSL on these data nearer to the paper's score (README)
RANDOM_PROB = 0.3
PRESET = "cpu"
PAPER = {"GOPlan": 43.57, "GCSL": 33.05}  # Table 1, PointRooms


def run_demo(out: str | Path = "runs", seed: int = 0, progress: bool = True, log=print) -> dict:
    start = time.time()
    out = Path(out)
    demo_dir = out / f"demo__{TASK}__seed{seed}__{time.strftime('%Y%m%d-%H%M%S')}"
    demo_dir.mkdir(parents=True, exist_ok=True)
    log(f"goplan demo: {TASK}, preset '{PRESET}' (smaller networks, fewer updates and planning sizes than the "
        f"paper's, so that it runs on a CPU in minutes)")
    data = collect(TASK, EPISODES, seed, noise_std=NOISE_STD, progress=progress, detour_prob=DETOUR_PROB,
                   naive_prob=NAIVE_PROB, random_prob=RANDOM_PROB)
    data_path = data.save(demo_dir / f"{TASK}.npz")
    log(f"dataset: {data_path} ({data.num_transitions} transitions; behaviour success "
        f"{data.card['behaviour_success_rate']:.2f}, average return {data.card['average_return']:.2f}; "
        f"noise {NOISE_STD}, detours {DETOUR_PROB}, straight-line episodes {NAIVE_PROB}, random actions "
        f"{RANDOM_PROB})")

    log("training GOPlan ...")
    goplan = train(TASK, data_path, seed=seed, out=demo_dir, preset=PRESET, progress=progress, log=log)
    log("training GCSL (same data, same number of updates) ...")
    gcsl = train(TASK, data_path, seed=seed, out=demo_dir, preset=PRESET, algorithm="gcsl", progress=progress,
                 log=log)

    rows = [
        ("pretrained ACGAN policy", goplan.get("pretrained_return"), None),
        ("GOPlan (finetuned policy)", goplan.get("goplan_return"), PAPER["GOPlan"]),
        ("GOPlan2 (test-time planning)", goplan.get("goplan2_return"), None),
        ("GCSL", gcsl.get("return"), PAPER["GCSL"]),
    ]
    log("")
    log(f"{'method':32s} {'average return':>15s} {'paper (Table 1)':>16s}")
    for name, value, paper in rows:
        shown = "-" if value is None else f"{value:.2f}"
        log(f"{name:32s} {shown:>15s} {'' if paper is None else f'{paper:.2f}':>16s}")
    log(f"(return = steps at the goal in a 50-step episode, mean over {_episodes(goplan)} evaluation episodes; "
        f"one seed; preset '{PRESET}')")
    budgets = budget_line(goplan, gcsl, data.num_transitions)
    log(budgets)
    plot = _comparison_plot(demo_dir, goplan, gcsl)
    summary = {"demo_dir": str(demo_dir), "seed": seed, "preset": PRESET, "goplan": goplan, "gcsl": gcsl,
               "budgets": budgets,
               "wall_time_s": round(time.time() - start, 1), "plot": str(plot)}
    (demo_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    log(f"plots: {plot} and {goplan['run_dir']}/learning_curve.png; total time {summary['wall_time_s']:.0f} s")
    return summary


def _config(result: dict) -> dict:
    return json.loads((Path(result["run_dir"]) / "config.json").read_text())


def _episodes(result: dict) -> int:
    return int(_config(result)["eval_episodes"])


def budget_line(goplan: dict, gcsl: dict, transitions: int) -> str:
    """The two methods' budgets side by side, read from the runs' saved configs."""
    a, b = _config(goplan), _config(gcsl)
    finetune = a["finetune_rounds"] * a["finetune_updates"]
    gcsl_updates = b["pretrain_updates"] + b["finetune_rounds"] * b["finetune_updates"]
    return (f"budgets: GOPlan {a['pretrain_updates']} pretraining + {a['finetune_rounds']} x {a['finetune_updates']} "
            f"finetuning = {a['pretrain_updates'] + finetune} updates, {a['hidden_dim']}-unit networks, batch "
            f"{a['batch_size']}; GCSL {gcsl_updates} updates ({b['gcsl_loss']} policy, lr {b['gcsl_lr']:g}), "
            f"{b['hidden_dim']}-unit network, batch {b['batch_size']}; both on the same {transitions} transitions "
            f"with '{a['normalization']}' normalisation")


def _comparison_plot(demo_dir: Path, goplan: dict, gcsl: dict) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from goplan.experiments.logging import read_metrics, series

    rows = read_metrics(goplan["run_dir"])
    x, y = series(rows, "eval_round", "return_mean")
    fig, ax = plt.subplots(figsize=(6, 3.8))
    ax.plot(x, y, marker="o", label="GOPlan policy (round 0 = pretrained ACGAN)")
    if goplan.get("goplan2_return") is not None:
        ax.scatter([x[-1]], [goplan["goplan2_return"]], marker="*", s=150, color="C2", zorder=3, label="GOPlan2")
    if gcsl.get("return") is not None:
        ax.axhline(gcsl["return"], color="C3", linestyle="--", label="GCSL")
    ax.set(xlabel="finetuning round", ylabel="average return", title=f"{TASK}: GOPlan vs GCSL (CPU preset)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = demo_dir / "comparison.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
