"""The reanalysis buffer B_re: ring overwrite, trajectory-uniform sampling, save and load."""
import pytest
import torch

from goplan.reanalysis import TransitionBuffer

SAMPLES = 40_000


def _filled(sampling: str) -> TransitionBuffer:
    """A one-step trajectory (state 0) and a nine-step one (states 1..9)."""
    buf = TransitionBuffer(100, 1, 1, 1, "cpu", sampling)
    states = torch.arange(10, dtype=torch.float32).unsqueeze(1)
    lengths = torch.tensor([1] + [9] * 9)
    buf.add(states, states, states, states, lengths)
    return buf


@pytest.mark.parametrize("sampling, share_of_short", [("trajectory", 0.5), ("transition", 0.1)])
def test_sampling_weights(sampling, share_of_short):
    buf = _filled(sampling)
    gen = torch.Generator().manual_seed(0)
    s, *_ = buf.sample(SAMPLES, gen)
    short = (s[:, 0] == 0).float().mean().item()
    assert short == pytest.approx(share_of_short, abs=0.01)
    counts = torch.bincount(s[:, 0].long(), minlength=10)[1:].float() / SAMPLES
    assert torch.allclose(counts, torch.full((9,), (1 - share_of_short) / 9), atol=0.01)  # uniform within


def test_ring_overwrites_oldest_and_sampling_sees_only_stored():
    buf = TransitionBuffer(4, 1, 1, 1, "cpu")
    for start in (0, 3):
        x = torch.arange(start, start + 3, dtype=torch.float32).unsqueeze(1)
        buf.add(x, x, x, x, torch.full((3,), 3))
    assert len(buf) == 4
    s, *_ = buf.sample(2000, torch.Generator().manual_seed(1))
    assert set(s[:, 0].long().tolist()) == {2, 3, 4, 5}


def test_state_dict_round_trip_keeps_the_weights():
    buf = _filled("trajectory")
    other = TransitionBuffer(100, 1, 1, 1, "cpu", "trajectory")
    other.load_state_dict(buf.state_dict())
    a = buf.sample(500, torch.Generator().manual_seed(2))
    b = other.sample(500, torch.Generator().manual_seed(2))
    assert all(torch.equal(x, y) for x, y in zip(a, b))


def test_a_state_that_does_not_fit_is_refused():
    state = _filled("trajectory").state_dict()
    with pytest.raises(ValueError, match="does not fit"):
        TransitionBuffer(5, 1, 1, 1, "cpu").load_state_dict(state)


def test_a_sample_is_a_typed_batch_that_unpacks_as_before():
    from goplan.reanalysis import TransitionBatch

    batch = _filled("transition").sample(8, torch.Generator().manual_seed(3))
    assert isinstance(batch, TransitionBatch)
    s, a, s_next, g = batch
    assert s is batch.states and a is batch.actions and s_next is batch.next_states and g is batch.goals
