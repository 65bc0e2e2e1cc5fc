"""Every bad input of the catalogue in tests/bad_inputs.py ends in one clear line and exit status 2:
no traceback, the file named, nothing partially written, nothing executed."""
from __future__ import annotations

from pathlib import Path

import pytest

from bad_inputs import CASES, make_fixtures, run_case

EXIT_USAGE = 2


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory):
    return make_fixtures(tmp_path_factory.mktemp("fixtures"))


def _run_dirs(root: Path) -> list[Path]:
    return [p for p in root.rglob("*__seed*") if p.is_dir()]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_gets_one_clear_line(case, fixtures, tmp_path):
    rc, out, err = run_case(case, tmp_path, fixtures)
    lines = err.strip().splitlines()
    assert rc == EXIT_USAGE, (rc, err)
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for words in case.words:
        assert words in lines[0], (words, lines[0])
    assert _run_dirs(tmp_path) == [], "a run directory was left behind"
    assert not (tmp_path / "PWNED").exists(), "the pickled command ran"


def test_catalogue_covers_the_issue_list():
    names = " ".join(c.name for c in CASES).lower()
    for needed in ("missing", "truncated npz", "truncated pickle", "truncated hdf5", "truncated checkpoint",
                   "run a command", "missing a key", "extra key", "disagree", "nan", "infinity", "empty dataset",
                   "one step", "unknown task", "unknown algorithm", "zero batch", "c = 0", "threshold below zero",
                   "cannot be written"):
        assert needed in names, needed


@pytest.mark.parametrize("eps", [0.0, -0.5, float("nan")])
def test_a_task_with_an_impossible_success_radius_is_refused(eps):
    from goplan.errors import TaskError
    from goplan.tasks.registry import TaskSpec

    with pytest.raises(TaskError, match="eps"):
        TaskSpec(name="MyTask", obs_dim=2, goal_dim=2, act_dim=2, eps=eps, goal_indices=(0, 1))


def test_every_goplan_error_is_one_line():
    """The base class folds multi-line text (third-party messages, user input) into one line, so no
    error can print as two; and it survives pickling (collection workers send errors back)."""
    import pickle

    from goplan.errors import DatasetError

    exc = DatasetError("f.pkl: not readable (UnpicklingError: first line,\nsecond line)\n")
    assert str(exc) == "f.pkl: not readable (UnpicklingError: first line, second line)"
    assert str(pickle.loads(pickle.dumps(exc))) == str(exc)
