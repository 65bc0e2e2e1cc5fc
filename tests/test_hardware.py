"""Precision follows the hardware (goplan/hardware.py): bf16 only where the device computes it natively,
with the detection mocked; what a run directory records of its machine."""
import dataclasses
import json
import logging
import math

import pytest
import torch

from bad_inputs import arrays
from goplan import hardware
from goplan.config import make_config
from goplan.data.dataset import TrajectoryDataset
from goplan.errors import ConfigError
from goplan.models.precision import matmul_precision

ZEN3 = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model\t\t: 1
model name\t: AMD EPYC
flags\t\t: fpu sse sse2 sse4_1 sse4_2 avx fma f16c avx2 bmi2

processor\t: 1
vendor_id\t: AuthenticAMD
flags\t\t: fpu avx512_bf16
"""
ZEN4 = ZEN3.replace("model\t\t: 1", "model\t\t: 17").replace(
    "avx2 bmi2\n", "avx2 bmi2 avx512f avx512bw avx512vl avx512_vnni avx512_bf16\n", 1)
SAPPHIRE_RAPIDS = """vendor_id\t: GenuineIntel
cpu family\t: 6
model\t\t: 143
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: avx2 fma avx512f amx_tile amx_bf16 amx_int8
"""
NEOVERSE_V1 = """processor\t: 0
BogoMIPS\t: 2100.00
Features\t: fp asimd evtstrm aes sve bf16 i8mm
CPU implementer\t: 0x41
CPU part\t: 0xd40
"""
BF16_ALL = {"plan_precision": "bf16", "train_precision": "bf16", "value_precision": "bf16"}


@pytest.fixture
def cpu(monkeypatch):
    """Make the CPU the one of a /proc/cpuinfo text."""
    def use(text):
        info = hardware.parse_cpuinfo(text)
        monkeypatch.setattr(hardware, "cpu_info", lambda: info)
        return info
    return use


@pytest.fixture
def probe(monkeypatch):
    """Replace the speed probe by a fixed bf16 speedup, counting its calls."""
    calls = []

    def use(speedup):
        monkeypatch.setattr(hardware, "bf16_speedup", lambda device: calls.append(device) or speedup)
        return calls
    return use


def _warnings(caplog):
    return [r.getMessage() for r in caplog.records if r.name == hardware.__name__ and r.levelno >= logging.WARNING]


def test_cpuinfo_is_parsed_for_the_first_processor_on_x86_and_arm():
    zen3 = hardware.parse_cpuinfo(ZEN3)
    assert (zen3.model, zen3.vendor, zen3.family, zen3.model_number) == ("AMD EPYC", "AuthenticAMD", "25", "1")
    assert zen3.extensions() == ["sse4_2", "avx", "avx2", "fma", "f16c"]  # processor 1's avx512_bf16 is not read
    assert "avx512_bf16" in hardware.parse_cpuinfo(ZEN4).extensions()
    arm = hardware.parse_cpuinfo(NEOVERSE_V1)
    assert arm.model == "Arm CPU (implementer 0x41, part 0xd40)" and {"sve", "bf16"} <= set(arm.extensions())
    assert hardware.parse_cpuinfo("processor\t: 0\n") is None  # no flags: the caller falls back to torch's probes


@pytest.mark.parametrize("text, native", [(ZEN3, False), (ZEN4, True), (SAPPHIRE_RAPIDS, True), (NEOVERSE_V1, True)])
def test_native_bf16_follows_the_cpu_flags(cpu, text, native):
    cpu(text)
    assert hardware.native_bf16("cpu") is native


def test_bf16_without_native_bf16_falls_back_to_fp32_with_one_line(cpu, caplog):
    cpu(ZEN3)
    cfg = make_config("tiny", {"plan_precision": "bf16", "train_precision": "bf16"})
    with caplog.at_level(logging.INFO, logger=hardware.__name__):
        out = hardware.resolve_precisions(cfg, "cpu")
    assert (out.plan_precision, out.train_precision, out.value_precision) == ("fp32", "fp32", "fp32")
    assert (cfg.plan_precision, cfg.train_precision) == ("bf16", "bf16")  # the caller's config is left alone
    (message,) = _warnings(caplog)
    assert "\n" not in message and message.startswith("warning: plan_precision=bf16 and train_precision=bf16 run in fp32")
    assert "AMD EPYC" in message and "avx2" in message and "force_bf16=true" in message
    caplog.clear()
    with caplog.at_level(logging.INFO, logger=hardware.__name__):
        assert hardware.resolve_precisions(out, "cpu") is out  # resolved once: nothing more to say
    assert not caplog.records


def test_force_bf16_keeps_emulated_bf16(cpu, caplog):
    cpu(ZEN3)
    cfg = make_config("tiny", {**BF16_ALL, "force_bf16": "true"})
    with caplog.at_level(logging.INFO, logger=hardware.__name__):
        assert hardware.resolve_precisions(cfg, "cpu") is cfg
    assert not _warnings(caplog)


def test_bf16_stays_bf16_where_native(cpu, caplog):
    cpu(ZEN4)
    cfg = make_config("tiny", BF16_ALL)
    with caplog.at_level(logging.INFO, logger=hardware.__name__):
        assert hardware.resolve_precisions(cfg, "cpu") is cfg
    assert not caplog.records


@pytest.mark.parametrize("text, speedup, expected, probed", [
    (ZEN4, 2.0, "bf16", True),  # native and faster
    (ZEN4, hardware.AUTO_MIN_SPEEDUP * 0.9, "fp32", True),  # native but not faster enough
    (ZEN3, 2.0, "fp32", False),  # emulated: not even probed
])
def test_auto_picks_bf16_only_where_native_and_probed_faster(cpu, probe, text, speedup, expected, probed):
    cpu(text)
    calls = probe(speedup)
    cfg = make_config("tiny", {"plan_precision": "auto", "train_precision": "auto", "value_precision": "fp32",
                               "force_bf16": True})  # force_bf16 does not bend "auto"
    out = hardware.resolve_precisions(cfg, "cpu")
    assert (out.plan_precision, out.train_precision, out.value_precision) == (expected, expected, "fp32")
    assert calls == (["cpu"] if probed else [])  # one probe for all "auto" settings


def test_fp32_defaults_need_no_detection(monkeypatch):
    def fail(*args):
        raise AssertionError("detection ran for an all-fp32 config")
    monkeypatch.setattr(hardware, "native_bf16", fail)
    monkeypatch.setattr(hardware, "bf16_speedup", fail)
    cfg = make_config("tiny")
    assert hardware.resolve_precisions(cfg, "cpu") is cfg


@pytest.fixture
def gpu(monkeypatch):
    """A CUDA device of a given compute capability (torch.cuda mocked; no GPU needed)."""
    def use(capability, name="Mock GPU"):
        monkeypatch.setattr(torch.version, "hip", None)
        monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
        monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: name)
    return use


@pytest.mark.parametrize("capability, native", [((7, 0), False), ((7, 5), False), ((8, 0), True), ((9, 0), True)])
def test_cuda_bf16_is_native_from_compute_capability_8(gpu, capability, native):
    gpu(capability)
    assert hardware.native_bf16("cuda") is native


def test_cuda_without_bf16_falls_back_and_names_the_gpu(gpu, probe, caplog):
    gpu((7, 0), "Tesla V100")
    calls = probe(3.0)
    cfg = make_config("tiny", {"plan_precision": "bf16", "value_precision": "auto"})
    with caplog.at_level(logging.INFO, logger=hardware.__name__):
        out = hardware.resolve_precisions(cfg, "cuda")
    assert (out.plan_precision, out.value_precision) == ("fp32", "fp32") and calls == []
    (message,) = _warnings(caplog)
    assert message.startswith("warning: plan_precision=bf16 run in fp32") and "Tesla V100 (compute capability 7.0)" in message
    gpu((8, 0), "A100")
    assert hardware.resolve_precisions(cfg, "cuda:1").value_precision == "bf16" and calls == ["cuda:1"]


def test_the_probe_times_both_dtypes_without_touching_the_random_streams(monkeypatch):
    monkeypatch.setattr(hardware, "PROBE_SIZE", {"cpu": 32, "cuda": 32})
    hardware.bf16_speedup.cache_clear()
    state = torch.get_rng_state()
    try:
        speedup = hardware.bf16_speedup("cpu")
        assert math.isfinite(speedup) and speedup > 0
        assert hardware.bf16_speedup("cpu") == speedup  # measured once per process
    finally:
        hardware.bf16_speedup.cache_clear()
    assert torch.equal(torch.get_rng_state(), state)


def test_precision_settings_accept_auto_and_refuse_others_in_one_line():
    cfg = make_config("tiny", ["plan_precision=auto", "train_precision=auto", "value_precision=auto", "force_bf16=1"])
    assert (cfg.plan_precision, cfg.force_bf16) == ("auto", True)
    with pytest.raises(ConfigError, match="^value_precision must be one of fp32, bf16, auto, got 'bfloat16'$"):
        make_config("tiny", ["value_precision=bfloat16"])
    with pytest.raises(ConfigError, match="resolve_precisions"):  # "auto" never reaches the arithmetic unresolved
        matmul_precision(torch.device("cpu"), "auto")


def test_machine_record_names_cpu_extensions_torch_build_and_threads(cpu, gpu):
    cpu(ZEN3)
    record = hardware.machine_record("cpu")
    assert (record["cpu_model"], record["cpu_family"], record["cpu_model_number"]) == ("AMD EPYC", "25", "1")
    assert record["cpu_vector_extensions"] == ["sse4_2", "avx", "avx2", "fma", "f16c"] and not record["native_bf16"]
    assert record["torch_build"]["version"] == torch.__version__ and record["torch_threads"] == torch.get_num_threads()
    assert record["torch_cpu_capability"] == torch.backends.cpu.get_cpu_capability() and record["device"] == "cpu"
    json.dumps(record)  # it goes into run.json
    gpu((9, 0), "NVIDIA H200")
    record = hardware.machine_record("cuda")
    assert (record["cuda_device"], record["cuda_capability"], record["native_bf16"]) == ("NVIDIA H200", "9.0", True)
    assert "AMD EPYC (AuthenticAMD family 25 model 1; avx2)" in hardware.describe_machine("cpu")


def test_a_run_records_its_machine_and_the_precisions_it_ran_with(cpu, monkeypatch, tmp_path, caplog):
    """train(): config.json holds the resolved precisions, the agent gets them, run.json the machine."""
    from goplan.experiments import train as train_module

    cpu(ZEN3)
    built = {}
    monkeypatch.setattr(train_module, "_run", lambda agent, *rest: built.setdefault("cfg", agent.cfg) and {})
    data = TrajectoryDataset(**arrays(episodes=3, steps=4), card={"task": "PointReach"})
    with caplog.at_level(logging.INFO, logger=hardware.__name__):
        train_module.train("PointReach", data, out=tmp_path, preset="tiny", progress=False, log=lambda msg: None,
                           overrides={**BF16_ALL, "device": "cpu", "hidden_dim": 8, "dynamics_hidden_dim": 8})
    (run,) = tmp_path.iterdir()
    saved = json.loads((run / "config.json").read_text())
    assert [saved[k] for k in BF16_ALL] == ["fp32"] * 3 and saved["force_bf16"] is False
    assert dataclasses.asdict(built["cfg"]) == saved
    assert len(_warnings(caplog)) == 1
    machine = json.loads((run / "run.json").read_text())["machine"]
    assert machine["cpu_model"] == "AMD EPYC" and "avx2" in machine["cpu_vector_extensions"]
    assert machine["torch_threads"] == torch.get_num_threads() and machine["native_bf16"] is False
