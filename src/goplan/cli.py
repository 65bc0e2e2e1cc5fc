"""The `goplan` command: collect, train, eval, demo, tasks.

Every user error (bad file, bad setting, unknown task) ends in one line on stderr and exit status 2.
`train` and `eval` print, as their last line, one JSON object with the final returns.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from goplan.config import describe_settings
from goplan.errors import GOPlanError

EXIT_USAGE = 2


def _cmd_tasks(args) -> None:
    from goplan.tasks.registry import get_task, task_names

    names = task_names()
    width = max(map(len, names))
    for name in names:
        t = get_task(name)
        print(f"{name:{width}s} state={t.obs_dim:<3d} goal={t.goal_dim:<3d} action={t.act_dim:<3d} eps={t.eps:<5g} "
              f"steps={t.max_steps}  {t.description}")


def _cmd_collect(args) -> None:
    from goplan.data.collect import collect

    ds = collect(args.task, args.episodes, args.seed, noise_std=args.noise, progress=not args.quiet,
                 detour_prob=args.detour, naive_prob=args.naive)
    path = ds.save(args.out)
    card = ds.card
    print(f"wrote {path} ({card['episodes']} episodes, {card['transitions']} transitions, behaviour success "
          f"{card['behaviour_success_rate']:.3f}, average return {card['average_return']:.2f})")


def _cmd_train(args) -> None:
    from goplan.experiments.train import train

    if args.resume is None and (args.task is None or args.dataset is None):
        raise GOPlanError("train needs --task and --dataset (or --resume RUN_DIR)")
    result = train(args.task, args.dataset, seed=args.seed, out=args.out, preset=args.preset,
                   overrides=args.settings, algorithm=args.algo, progress=not args.quiet, resume=args.resume)
    print(json.dumps(result))


def _cmd_eval(args) -> None:
    from goplan.evaluation import evaluate
    from goplan.experiments.train import EVAL_SEED_OFFSET, load_agent

    agent = load_agent(args.run_dir)
    seed = args.seed if args.seed is not None else agent.cfg.seed + EVAL_SEED_OFFSET
    result = evaluate(agent, args.episodes, args.mode, seed=seed)
    result.update(run=str(args.run_dir), mode=args.mode, task=agent.task.name, algorithm=agent.algorithm)
    print(json.dumps(result))


def _cmd_demo(args) -> None:
    from goplan.experiments.demo import run_demo

    run_demo(out=args.out, seed=args.seed, progress=not args.quiet)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="goplan",
        description="GOPlan: goal-conditioned offline RL by planning with learned models.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Run `goplan COMMAND --help` for the options of a command.",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("tasks", help="list the tasks with their dimensions")
    s.set_defaults(fn=_cmd_tasks)

    s = sub.add_parser("collect", help="make an offline dataset with the task's behaviour policy")
    s.add_argument("--task", required=True, help="task name (see `goplan tasks`)")
    s.add_argument("--episodes", type=int, required=True, help="number of episodes to collect")
    s.add_argument("--seed", type=int, default=0, help="random seed; the same seed gives the same dataset")
    s.add_argument("--out", required=True, help="output file (.npz); a JSON card is written beside it")
    s.add_argument("--noise", type=float, default=0.2, help="std of the Gaussian action noise (default 0.2)")
    s.add_argument("--detour", type=float, default=0.0,
                   help="fraction of episodes that first visit a random waypoint (suboptimal, multi-modal data)")
    s.add_argument("--naive", type=float, default=0.0,
                   help="fraction of episodes driven by the task's naive policy (PointRooms: straight at the goal)")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(fn=_cmd_collect)

    s = sub.add_parser(
        "train", help="pretrain, then rounds of reanalysis and finetuning, evaluating as it goes",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="settings (key=value, defaults of the paper preset):\n" + describe_settings(),
    )
    s.add_argument("--task", help="task name")
    s.add_argument("--dataset", help="dataset file (.npz made by `goplan collect`, or an original buffer.pkl)")
    s.add_argument("--seed", type=int, default=0, help="random seed")
    s.add_argument("--out", default="runs", help="folder in which the run directory is made (default runs/)")
    s.add_argument("--preset", default="paper", help="paper (default, the paper's sizes), cpu or tiny")
    s.add_argument("--algo", default="goplan", help="goplan (default) or gcsl (baseline)")
    s.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run from its checkpoint")
    s.add_argument("--quiet", action="store_true", help="no progress bars")
    s.add_argument("settings", nargs="*", metavar="key=value", help="override any setting listed below")
    s.set_defaults(fn=_cmd_train)

    s = sub.add_parser("eval", help="evaluate a trained run in policy or test-time planning mode")
    s.add_argument("run_dir", help="a run directory (or a .safetensors checkpoint)")
    s.add_argument("--mode", choices=("policy", "plan"), default="policy",
                   help="policy: the finetuned policy; plan: test-time planning with it (GOPlan2)")
    s.add_argument("--episodes", type=int, default=100, help="episodes, run in parallel (default 100)")
    s.add_argument("--seed", type=int, default=None, help="evaluation seed (default: the run's)")
    s.set_defaults(fn=_cmd_eval)

    s = sub.add_parser("demo", help="the whole pipeline on PointRooms with the CPU preset, with a GCSL baseline")
    s.add_argument("--out", default="runs", help="folder for the demo's runs (default runs/)")
    s.add_argument("--seed", type=int, default=0, help="random seed")
    s.add_argument("--quiet", action="store_true", help="no progress bars")
    s.set_defaults(fn=_cmd_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.fn(args)
    except GOPlanError as exc:
        print(f"goplan {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:  # a full disk or a vanished folder while writing run files
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"goplan {args.command}: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print(f"goplan {args.command}: interrupted; finished work is saved", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
