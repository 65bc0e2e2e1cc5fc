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
    from goplan.data.sizes import dataset_names

    plans = dataset_names()
    width = max(len(p.name) for p in plans)
    print("\ndataset names (`goplan collect NAME` makes the paper-sized dataset):")
    for plan in plans:
        t = get_task(plan.task)
        what = f"{plan.episodes} IID trajectories of {plan.ood_group.name}" if plan.ood_group else \
            f"{plan.episodes} episodes ({plan.episodes * t.max_steps} transitions)"
        print(f"{plan.name:{width}s} state={t.obs_dim:<3d} goal={t.goal_dim:<3d} action={t.act_dim:<3d} "
              f"collected on {plan.task}: {what}")


DEFAULT_DATA_DIR = "data"  # where `goplan collect` writes by default and `goplan datasets` looks first
DATASET_ACTIONS = {"export-minari": "FILE.npz", "import-minari": "a Minari dataset id or folder"}


def _cmd_collect(args) -> None:
    import time

    from goplan.data.collect import collect_to_file, parts_dir
    from goplan.errors import ConfigError

    if args.name and args.task and args.name != args.task:
        raise ConfigError(f"two tasks given: '{args.name}' and --task '{args.task}'")
    name = args.name or args.task
    if not name:
        raise ConfigError("collect needs a task or dataset name, e.g. `goplan collect PointRooms` (see `goplan tasks`)")
    out = Path(args.out) if args.out else Path(DEFAULT_DATA_DIR) / f"{name}-seed{args.seed}.npz"
    work = parts_dir(out.with_suffix(".npz"))
    if work.is_dir():
        print(f"resuming from the finished chunks in {work}")
    started = time.perf_counter()
    ds = collect_to_file(name, out, episodes=args.episodes, seed=args.seed, noise_std=args.noise,
                         workers=args.workers, chunk_episodes=args.chunk, progress=not args.quiet,
                         detour_prob=args.detour, naive_prob=args.naive, random_prob=args.random)
    card = ds.card
    print(f"wrote {out.with_suffix('.npz')} ({card['task']}, {card['episodes']} episodes, {card['transitions']} "
          f"transitions, behaviour success {card['behaviour_success_rate']:.3f}, average return "
          f"{card['average_return']:.2f}, {time.perf_counter() - started:.1f} s)")


def _cmd_datasets(args) -> None:
    from goplan.errors import ConfigError

    words = list(args.words)
    action = words[0] if words and words[0] in DATASET_ACTIONS else None
    if action is None:
        from goplan.data.catalog import find_datasets, format_table

        entries = find_datasets(words or None, verify=not args.no_verify)
        if not entries:
            where = ", ".join(words) if words else "data/ and the current folder"
            print(f"no datasets found in {where}")
            return
        print(format_table(entries))
        return
    if len(words) != 2:
        raise ConfigError(
            f"datasets {action} takes exactly one argument ({DATASET_ACTIONS[action]}), got {len(words) - 1}")
    source = words[1]
    if action == "export-minari":
        from goplan.data.dataset import TrajectoryDataset
        from goplan.data.minari_io import export_minari

        if not args.id:
            raise ConfigError("datasets export-minari needs --id, e.g. --id goplan/pointrooms/noise-v0")
        folder = export_minari(TrajectoryDataset.load(source), args.id, root=args.root, task=args.task,
                               overwrite=args.force)
        print(f"wrote Minari dataset {args.id} in {folder}")
        return
    from goplan.data.minari_io import import_minari

    if not args.out:
        raise ConfigError("datasets import-minari needs --out FILE.npz")
    ds = import_minari(source, root=args.root)
    if args.task:
        from goplan.tasks.registry import get_task

        ds.check_task(get_task(args.task), source=source)
        ds.card["task"] = args.task
    path = ds.save(args.out)
    print(f"wrote {path} ({ds.num_episodes} episodes, {ds.num_transitions} transitions, task "
          f"{ds.card.get('task', 'unknown')})")


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

    s = sub.add_parser(
        "collect", help="make an offline dataset (paper size by default) with the task's behaviour policy",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="names: TASK (paper size: 1e5 transitions, 2e6 for FetchPush/Pick/Slide and HandReach), TASK-s (a "
               "tenth),\nan OOD group's IID task or alias (e.g. FetchPushOOD-Right2Right = FetchPushOOD-LeftRight: "
               "5000 IID trajectories).\nAn interrupted collection resumes from OUT.parts/ when rerun with the same "
               "arguments.",
    )
    s.add_argument("name", nargs="?", metavar="TASK", help="task or dataset name (see `goplan tasks`)")
    s.add_argument("--task", help="the same as TASK")
    s.add_argument("--episodes", type=int, default=None,
                   help="number of episodes (kept trajectories for an OOD group); default: the paper size")
    s.add_argument("--seed", type=int, default=0, help="random seed; the same seed gives the same dataset")
    s.add_argument("--out", help=f"output file (.npz); a JSON card is written beside it "
                                 f"(default {DEFAULT_DATA_DIR}/NAME-seedSEED.npz)")
    s.add_argument("--noise", type=float, default=0.2, help="std of the Gaussian action noise (default 0.2)")
    s.add_argument("--workers", type=int, default=None,
                   help="worker processes (default min(CPU count, 4)); the data does not depend on it")
    s.add_argument("--chunk", type=int, default=None,
                   help="episodes per chunk (default 1000 for the point tasks, 250 for MuJoCo ones); the data "
                        "depends on it")
    s.add_argument("--detour", type=float, default=0.0,
                   help="fraction of episodes that first visit a random waypoint (suboptimal, multi-modal data)")
    s.add_argument("--naive", type=float, default=0.0,
                   help="fraction of episodes driven by the task's naive policy (PointRooms: straight at the goal)")
    s.add_argument("--random", type=float, default=0.0,
                   help="probability that a step's action is drawn uniformly from the action box instead (the "
                        "random_eps exploration of the DDPG + HER agents behind the benchmark's data)")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(fn=_cmd_collect)

    s = sub.add_parser(
        "datasets", help="list local datasets; export them to or import them from Minari",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
               "  goplan datasets                      list data/ and the current folder\n"
               "  goplan datasets DIR                  list DIR (and its subfolders)\n"
               "  goplan datasets export-minari FILE.npz --id goplan/pointrooms/noise-v0 [--root DIR]\n"
               "  goplan datasets import-minari ID_OR_FOLDER --out FILE.npz [--root DIR]\n"
               "Minari datasets live in --root, else $MINARI_DATASETS_PATH, else ~/.minari/datasets.",
    )
    s.add_argument("words", nargs="*", metavar="ARG", help="[DIR ...] | export-minari FILE | import-minari ID_OR_DIR")
    s.add_argument("--id", help="export-minari: the Minari dataset id, (namespace/)name-vN")
    s.add_argument("--root", help="the Minari datasets folder")
    s.add_argument("--out", help="import-minari: the npz file to write")
    s.add_argument("--task", help="the task of the data (default: the card's)")
    s.add_argument("--force", action="store_true", help="export-minari: replace an existing Minari dataset")
    s.add_argument("--no-verify", action="store_true", help="list without checking the checksums (faster)")
    s.set_defaults(fn=_cmd_datasets)

    s = sub.add_parser(
        "train", help="pretrain, then rounds of reanalysis and finetuning, evaluating as it goes",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="settings, by group, with the paper preset's defaults: override any as key=value, by its name "
               "(beta=30)\nor with its group (algorithm.beta=30)\n\n" + describe_settings(),
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
