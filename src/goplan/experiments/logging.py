"""Run directories, metrics (CSV in long format and TensorBoard, always on) and learning-curve plots."""
from __future__ import annotations

import csv
import datetime as _dt
import os
import time
from pathlib import Path

from goplan.errors import CheckpointError

METRICS_FILE = "metrics.csv"
CSV_FIELDS = ("wall_time", "phase", "step", "metric", "value")


def make_run_dir(root: str | os.PathLike, task: str, algorithm: str, seed: int) -> Path:
    """<root>/<task>__<algorithm>__seed<seed>__<YYYYmmdd-HHMMSS>[-n]; fails clearly when not writable."""
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path(root) / f"{task}__{algorithm}__seed{seed}__{stamp}"
    path, n = base, 1
    while path.exists():
        path = base.with_name(f"{base.name}-{n}")
        n += 1
    try:
        path.mkdir(parents=True)
        probe = path / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise CheckpointError(f"{root}: cannot create a run directory there ({exc.strerror or exc})") from None
    return path


class RunLogger:
    """Appends every metric to metrics.csv (wall_time, phase, step, metric, value) and TensorBoard."""

    def __init__(self, run_dir: str | os.PathLike, tensorboard: bool = True):
        self.run_dir = Path(run_dir)
        self.start = time.time()
        path = self.run_dir / METRICS_FILE
        new = not path.exists()
        self._file = open(path, "a", newline="")
        self._csv = csv.writer(self._file)
        if new:
            self._csv.writerow(CSV_FIELDS)
        self._tb = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(str(self.run_dir / "tensorboard"))

    def log(self, phase: str, step: int, metrics: dict[str, float]) -> None:
        now = round(time.time() - self.start, 3)
        for key, value in metrics.items():
            self._csv.writerow((now, phase, step, key, f"{float(value):.6g}"))
            if self._tb is not None:
                self._tb.add_scalar(f"{phase}/{key}", float(value), step)
        self._file.flush()
        if self._tb is not None:
            self._tb.flush()

    def close(self) -> None:
        self._file.close()
        if self._tb is not None:
            self._tb.close()


def read_metrics(run_dir: str | os.PathLike) -> list[dict[str, str]]:
    with open(Path(run_dir) / METRICS_FILE, newline="") as f:
        return list(csv.DictReader(f))


def series(rows: list[dict[str, str]], phase: str, metric: str) -> tuple[list[int], list[float]]:
    pts = [(int(r["step"]), float(r["value"])) for r in rows if r["phase"] == phase and r["metric"] == metric]
    return [p[0] for p in pts], [p[1] for p in pts]


def plot_learning_curves(run_dir: str | os.PathLike) -> list[Path]:
    """learning_curve.png (evaluation return over pretraining and rounds) and reanalysis_cases.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run_dir = Path(run_dir)
    rows = read_metrics(run_dir)
    out = []
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    x, y = series(rows, "eval_pretrain", "return_mean")
    axes[0].plot(x, y, marker="o")
    axes[0].set(xlabel="pretraining update", ylabel="average return", title="pretraining (policy)")
    for metric, label in (("return_mean", "policy"), ("plan_return_mean", "test-time planning")):
        x, y = series(rows, "eval_round", metric)
        if x:
            axes[1].plot(x, y, marker="o", label=label)
    axes[1].set(xlabel="finetuning round (0 = pretrained)", ylabel="average return", title="reanalysis + finetuning")
    if axes[1].get_lines():
        axes[1].legend()
    fig.tight_layout()
    path = run_dir / "learning_curve.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    out.append(path)

    fig, ax = plt.subplots(figsize=(5, 3.6))
    for case in ("a1", "a2", "a3", "b1", "b2", "b3"):
        x, y = series(rows, "round", f"case_{case}")
        if x:
            ax.plot(x, y, marker="o", label=case)
    ax.set(xlabel="round", ylabel="fraction of trajectories", title="reanalysis cases", ylim=(-0.02, 1.02))
    if ax.get_lines():
        ax.legend(ncol=3, fontsize=8)
    fig.tight_layout()
    path = run_dir / "reanalysis_cases.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    out.append(path)
    return out
