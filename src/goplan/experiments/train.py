"""One training run on disk: run directory, config, metrics, TensorBoard, checkpoints, plots, result.

Used by `goplan train`, `goplan demo` and scripts. Evaluation happens after pretraining (the pretrained
ACGAN policy), after every finetuning round (policy mode) and at the end in test-time planning mode
(GOPlan2).
"""
from __future__ import annotations

import difflib
import json
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from goplan.agents.checkpoint import read_checkpoint_metadata
from goplan.agents.gcsl import GCSLAgent
from goplan.agents.build import resolve_device
from goplan.agents.goplan import GOPlanAgent
from goplan.config import GOPlanConfig, config_from_dict, make_config, save_config
from goplan.data.dataset import TrajectoryDataset, read_json_object
from goplan.errors import CheckpointError, ConfigError, NumericalError
from goplan.evaluation import evaluate
from goplan.experiments.logging import RunLogger, make_run_dir, plot_learning_curves
from goplan.hardware import machine_record, resolve_precisions
from goplan.tasks.registry import get_task

ALGORITHMS = {"goplan": GOPlanAgent, "gcsl": GCSLAgent}
CHECKPOINT = "checkpoint.safetensors"  # everything needed to resume (with the reanalysis buffer)
FINAL = "agent.safetensors"  # the trained agent
RUN_INFO = "run.json"
EVAL_SEED_OFFSET = 10_000  # evaluation episodes use seed + offset, apart from training randomness


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _eval(agent, cfg: GOPlanConfig, mode: str, episodes: int) -> dict[str, float]:
    return evaluate(agent, episodes, mode, seed=cfg.seed + EVAL_SEED_OFFSET)


def train(task: str, dataset: str | Path | TrajectoryDataset, seed: int = 0, out: str | Path = "runs",
          preset: str = "paper", overrides: list[str] | dict | None = None, algorithm: str = "goplan",
          progress: bool = True, resume: str | Path | None = None, log=print) -> dict[str, Any]:
    if resume is not None:
        return resume_run(resume, progress=progress, log=log)
    if algorithm not in ALGORITHMS:
        close = difflib.get_close_matches(algorithm, list(ALGORITHMS), n=1, cutoff=0.4)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise ConfigError(f"unknown algorithm {algorithm!r}; {hint}choose from {', '.join(ALGORITHMS)}")
    spec = get_task(task)
    cfg = make_config(preset, overrides)
    keys = overrides.keys() if isinstance(overrides, dict) else [o.split("=", 1)[0] for o in overrides or []]
    if "seed" not in keys:  # --seed applies unless a seed=... setting overrides it
        cfg.seed = seed
    data = dataset if isinstance(dataset, TrajectoryDataset) else TrajectoryDataset.load(dataset)
    data.check_task(spec, source=str(dataset) if not isinstance(dataset, TrajectoryDataset) else "dataset")
    device = resolve_device(cfg.device)
    cfg = resolve_precisions(cfg, device)  # config.json holds the precisions the run computes with
    run_dir = make_run_dir(out, spec.name, algorithm, cfg.seed)
    save_config(cfg, run_dir / "config.json")
    info = {"task": spec.name, "algorithm": algorithm, "seed": cfg.seed, "preset": cfg.preset,
            "dataset": str(Path(dataset).resolve()) if not isinstance(dataset, TrajectoryDataset) else None,
            "dataset_card": data.card, "machine": machine_record(device)}
    (run_dir / RUN_INFO).write_text(json.dumps(info, indent=2, default=str))
    if cfg.preset != "paper":
        log(f"note: preset '{cfg.preset}' shrinks networks, update counts and planning sizes (see goplan/config.py)")
    seed_everything(cfg.seed)
    agent = ALGORITHMS[algorithm](spec, cfg)
    return _run(agent, data, run_dir, progress, log)


def _read_json(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise CheckpointError(f"{path}: missing from the run directory")
    return read_json_object(path, "run file", CheckpointError)


def resume_run(run_dir: str | Path, progress: bool = True, log=print) -> dict[str, Any]:
    run_dir = Path(run_dir)
    info_path, ckpt = run_dir / RUN_INFO, run_dir / CHECKPOINT
    if not info_path.exists():
        raise CheckpointError(f"{run_dir}: not a run directory (no {RUN_INFO})")
    info = _read_json(info_path)
    if info.get("dataset") is None:
        raise CheckpointError(f"{run_dir}: the run was started from an in-memory dataset and cannot be resumed")
    if info.get("algorithm") not in ALGORITHMS or not isinstance(info.get("task"), str):
        raise CheckpointError(f"{info_path}: names no known algorithm and task")
    try:
        cfg = config_from_dict(_read_json(run_dir / "config.json"))
    except ConfigError as exc:
        raise CheckpointError(f"{run_dir / 'config.json'}: {exc}") from None
    data = TrajectoryDataset.load(info["dataset"])
    # a run resumed elsewhere computes its rest with that machine's kernels: run.json lists every machine
    earlier = info["resumed"] if isinstance(info.get("resumed"), list) else []
    info["resumed"] = [*earlier, {"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                                  "machine": machine_record(resolve_device(cfg.device))}]
    info_path.write_text(json.dumps(info, indent=2, default=str))
    agent_cls = ALGORITHMS[info["algorithm"]]
    if ckpt.exists():
        agent = agent_cls.load(ckpt)
        log(f"resuming {run_dir} from {CHECKPOINT}")
    else:
        seed_everything(cfg.seed)
        agent = agent_cls(info["task"], cfg)
        log(f"no checkpoint in {run_dir}; starting it from the beginning")
    return _run(agent, data, run_dir, progress, log)


def _checkpoint_note(run_dir: Path) -> str:
    """Where the last good checkpoint is (the guards stop a run before a bad one is written)."""
    path = run_dir / CHECKPOINT
    if not path.exists():
        return f"no checkpoint had been written yet in {run_dir}"
    counters = read_checkpoint_metadata(path)["counters"]
    where = ", ".join(f"{k}={v}" for k, v in counters.items() if k in ("pretrain_updates", "rounds", "updates"))
    return f"the last good checkpoint is kept: {path} ({where})"


class _CollapseReporter:
    """Logs a warning when the discriminator becomes stuck at one output (and again if it recovers)."""

    def __init__(self, log) -> None:
        self.log, self.collapsed = log, False

    def __call__(self, phase: str, step: int, metrics: dict[str, float]) -> None:
        now = bool(metrics.get("disc_collapsed", 0.0))
        if now and not self.collapsed:
            self.log(f"warning: the discriminator collapsed at {phase} step {step}: its output is stuck near "
                     f"{metrics.get('disc_real', float('nan')):.4f} (batch std {metrics['disc_std']:.2e})")
        elif self.collapsed and not now:
            self.log(f"the discriminator recovered at {phase} step {step}")
        self.collapsed = now


def _run(agent, data: TrajectoryDataset, run_dir: Path, progress: bool, log) -> dict[str, Any]:
    try:
        return _run_unguarded(agent, data, run_dir, progress, log)
    except NumericalError as exc:
        message = f"{exc}; {_checkpoint_note(run_dir)}"
        (run_dir / "error.txt").write_text(message + "\n")
        raise NumericalError(message) from None


def _run_unguarded(agent, data: TrajectoryDataset, run_dir: Path, progress: bool, log) -> dict[str, Any]:
    cfg = agent.cfg
    logger = RunLogger(run_dir)
    report_collapse = _CollapseReporter(log)
    start = time.time()
    result: dict[str, Any] = {"run_dir": str(run_dir), "task": agent.task.name, "algorithm": agent.algorithm,
                              "seed": cfg.seed, "preset": cfg.preset}
    try:
        if isinstance(agent, GOPlanAgent):
            agent.set_dataset(data, fit_normalizers=agent.counters["pretrain_updates"] == 0)

            def on_log(phase: str, step: int, metrics: dict[str, float]) -> None:
                logger.log(phase, step, metrics)
                report_collapse(phase, step, metrics)
                if phase == "pretrain" and (step % cfg.checkpoint_every == 0 or step == cfg.pretrain_updates):
                    agent.save(run_dir / CHECKPOINT, with_buffer=True)
                    ev = _eval(agent, cfg, "policy", cfg.eval_episodes)  # the learning curve of pretraining
                    logger.log("eval_pretrain", step, ev)
                    if step == cfg.pretrain_updates:
                        logger.log("eval_round", 0, ev)
                        result["pretrained_return"] = ev["return_mean"]
                        log(f"pretrained ACGAN policy: average return {ev['return_mean']:.2f}")
                elif phase == "round":
                    cases = " ".join(f"{k[5:]}={v:.2f}" for k, v in metrics.items() if k.startswith("case_"))
                    msg = f"round {step}/{cfg.finetune_rounds}: {cases}"
                    if cfg.eval_every_round or step == cfg.finetune_rounds:
                        ev = _eval(agent, cfg, "policy", cfg.eval_episodes)
                        logger.log("eval_round", step, ev)
                        result["goplan_return"] = ev["return_mean"]
                        msg += f"; policy return {ev['return_mean']:.2f}"
                    agent.save(run_dir / CHECKPOINT, with_buffer=True)
                    log(msg)

            agent.fit(data, on_log=on_log, progress=progress)
            if cfg.finetune_rounds == 0:
                result["goplan_return"] = result.get("pretrained_return")
            if cfg.eval_plan_episodes > 0:
                ev = _eval(agent, cfg, "plan", cfg.eval_plan_episodes)
                logger.log("eval_round", cfg.finetune_rounds, {f"plan_{k}": v for k, v in ev.items()})
                result["goplan2_return"] = ev["return_mean"]
                log(f"GOPlan2 (test-time planning): average return {ev['return_mean']:.2f}")
        else:
            agent.fit(data, on_log=lambda p, s, m: logger.log(p, s, m), progress=progress)
            ev = _eval(agent, cfg, "policy", cfg.eval_episodes)
            logger.log("eval_final", agent.updates, ev)
            result["return"] = ev["return_mean"]
            log(f"{agent.algorithm.upper()} policy: average return {ev['return_mean']:.2f}")
        agent.save(run_dir / FINAL)
    finally:
        logger.close()
    if isinstance(agent, GOPlanAgent):
        plot_learning_curves(run_dir)
    result["wall_time_s"] = round(time.time() - start, 1)
    (run_dir / "result.json").write_text(json.dumps(result, indent=2))
    return result


def load_agent(run_dir: str | Path, device: str | None = None):
    """The trained agent of a run directory (or a checkpoint file path)."""
    path = Path(run_dir)
    if path.is_dir():
        path = path / FINAL if (path / FINAL).exists() else path / CHECKPOINT
    algo = read_checkpoint_metadata(path)["algorithm"]
    if algo not in ALGORITHMS:
        raise CheckpointError(f"{path}: unknown algorithm '{algo}' in checkpoint")
    return ALGORITHMS[algo].load(path, device=device)
