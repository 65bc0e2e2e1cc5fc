"""What the machine computes natively, the matrix precision that follows from it, and the record of the
machine that every run directory keeps.

bfloat16 matrix products are fast only where the hardware computes them: x86 CPUs with avx512_bf16 or
AMX (AMD Zen 4 and later, Intel Cooper Lake and Sapphire Rapids and later), Arm CPUs with the BF16
extension, and NVIDIA GPUs of compute capability 8.0 and above. Elsewhere torch emulates them, many
times slower than fp32 (on one core of a Zen 3 EPYC with AVX2 only, 256 x 256 products ran at 1.4
GFLOP/s in bf16 against 90 in fp32). `resolve_precisions` turns a config's precision settings into what
its device runs: "bf16" falls back to fp32 with one logged line where bf16 is not native (unless
force_bf16), and "auto" takes bf16 only where it is native and a short probe finds its matrix products
faster. Nothing here changes a run whose precisions are all fp32 (the defaults).

Results are bit-identical only on the same kind of machine: different vector extensions, torch builds
or thread counts take different kernels, whose sums round differently in the last bits. `machine_record`
is what a run directory keeps of its machine (run.json's "machine").
"""
from __future__ import annotations

import dataclasses
import functools
import logging
import os
import platform
import time
from pathlib import Path
from typing import Any

import torch

logger = logging.getLogger(__name__)

AUTO = "auto"  # the precision setting that lets the hardware decide
PRECISION_SETTINGS = ("plan_precision", "train_precision", "value_precision")
CPUINFO = Path("/proc/cpuinfo")
# feature flags (as /proc/cpuinfo names them) of native bfloat16 matrix arithmetic: x86's AVX-512 BF16
# dot products and AMX tiles, and Arm's BF16 extension (listed as "bf16" in the Features line on aarch64)
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")
# the vector extensions that decide which kernels torch's CPU code (ATen, oneDNN, MKL) runs: a run
# records which of these its CPU has
KERNEL_FLAGS = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
                "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8", "asimd", "sve", "sve2", "bf16",
                "i8mm")
# the extensions a one-line description of the CPU names: the widest vectors and the bf16 units
HEADLINE_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "sve", "bf16")
# torch's own CPU probes (the cpuinfo library), used where /proc/cpuinfo is not there (macOS, Windows):
# private functions of torch.cpu, looked up by name and skipped where a torch version lacks one
TORCH_CPU_PROBES = {"avx2": "_is_avx2_supported", "avx512f": "_is_avx512_supported",
                    "avx512_vnni": "_is_vnni_supported", "avx512_bf16": "_is_avx512_bf16_supported",
                    "amx_tile": "_is_amx_tile_supported"}
CUDA_BF16_CAPABILITY = (8, 0)  # NVIDIA Ampere and later: bf16 tensor cores
# the speed probe of "auto": square products of this size per device type (a few milliseconds in all
# where bf16 is native; on a GPU smaller products would time the launch rather than the arithmetic)
PROBE_SIZE = {"cpu": 256, "cuda": 2048}
PROBE_PRODUCTS = 4  # products per timed block
PROBE_REPEATS = 5  # timed blocks per dtype, after one untimed block; the fastest block counts
# "auto" takes bf16 when the probe finds its products at least this many times as fast as fp32's: bf16
# costs rounding, and autocast adds casts around every product, so a marginal gain is not taken
AUTO_MIN_SPEEDUP = 1.2


@dataclasses.dataclass(frozen=True)
class CpuInfo:
    model: str  # the model name ("model name" in /proc/cpuinfo, else platform.processor())
    vendor: str  # "AuthenticAMD", "GenuineIntel", an Arm implementer code, or "" where unknown
    family: str  # x86 CPU family, or ""
    model_number: str  # x86 model number or Arm CPU part, or ""
    flags: frozenset  # feature flags ("flags" on x86, "Features" on Arm); empty where unknown
    source: str  # where the flags came from: "/proc/cpuinfo", "torch" (its CPU probes) or "none"

    def extensions(self) -> list[str]:
        """The CPU's kernel-relevant vector extensions (KERNEL_FLAGS), in that order."""
        return [f for f in KERNEL_FLAGS if f in self.flags]


def parse_cpuinfo(text: str) -> CpuInfo | None:
    """The first processor's entry of a /proc/cpuinfo text (x86 or Arm layout); None if it has none."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            if fields:
                break  # the end of the first processor's block
            continue
        key, sep, value = line.partition(":")
        if sep:
            fields.setdefault(key.strip().lower(), value.strip())
    flags = fields.get("flags", fields.get("features"))
    if flags is None:
        return None
    model = fields.get("model name")
    if not model and "cpu implementer" in fields:  # Arm lists no model name, only implementer and part codes
        model = f"Arm CPU (implementer {fields['cpu implementer']}, part {fields.get('cpu part', '?')})"
    model = model or platform.processor() or platform.machine()
    return CpuInfo(model=model or "unknown CPU", vendor=fields.get("vendor_id", fields.get("cpu implementer", "")),
                   family=fields.get("cpu family", ""),
                   model_number=fields.get("model", fields.get("cpu part", "")),
                   flags=frozenset(flags.split()), source=str(CPUINFO))


def _torch_flags() -> frozenset:
    found = set()
    for flag, name in TORCH_CPU_PROBES.items():
        probe = getattr(torch.cpu, name, None)
        try:
            if probe is not None and probe():
                found.add(flag)
        except (RuntimeError, OSError):
            pass
    return frozenset(found)


@functools.lru_cache(maxsize=None)
def cpu_info() -> CpuInfo:
    """This machine's CPU: /proc/cpuinfo where there is one, else platform.processor() and torch's probes."""
    try:
        parsed = parse_cpuinfo(CPUINFO.read_text())
    except OSError:
        parsed = None
    if parsed is not None:
        return parsed
    flags = _torch_flags()
    return CpuInfo(model=platform.processor() or platform.machine() or "unknown CPU", vendor="", family="",
                   model_number="", flags=flags, source="torch" if flags else "none")


def native_bf16(device: torch.device | str) -> bool:
    """Whether `device` computes bfloat16 matrix products natively (not emulated)."""
    device = torch.device(device)
    if device.type == "cuda":
        if torch.version.hip:  # ROCm: torch's own answer (every GPU ROCm supports has bf16)
            return bool(torch.cuda.is_bf16_supported())
        return tuple(torch.cuda.get_device_capability(device)) >= CUDA_BF16_CAPABILITY
    return any(flag in cpu_info().flags for flag in NATIVE_BF16_FLAGS)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _product_seconds(device: torch.device, dtype: torch.dtype, size: int) -> float:
    """The fastest of PROBE_REPEATS blocks of PROBE_PRODUCTS size x size products, per product. Constant
    inputs: the probe draws no random numbers, so it leaves every generator's stream as it was."""
    a = torch.full((size, size), 1.0 / size, dtype=dtype, device=device)
    out = torch.empty(size, size, dtype=dtype, device=device)
    best = float("inf")
    for repeat in range(PROBE_REPEATS + 1):
        _sync(device)
        start = time.perf_counter()
        for _ in range(PROBE_PRODUCTS):
            torch.mm(a, a, out=out)
        _sync(device)
        if repeat:  # the first block warms up the kernels
            best = min(best, (time.perf_counter() - start) / PROBE_PRODUCTS)
    return best


@functools.lru_cache(maxsize=None)
def bf16_speedup(device: str) -> float:
    """fp32 time / bf16 time of square matrix products on `device` (measured once per process)."""
    dev = torch.device(device)
    size = PROBE_SIZE["cuda" if dev.type == "cuda" else "cpu"]
    return _product_seconds(dev, torch.float32, size) / _product_seconds(dev, torch.bfloat16, size)


def describe_device(device: torch.device | str) -> str:
    """The device in a few words: a GPU's name and compute capability, or the CPU's model and extensions."""
    device = torch.device(device)
    if device.type == "cuda":
        major, minor = torch.cuda.get_device_capability(device)
        return f"{torch.cuda.get_device_name(device)} (compute capability {major}.{minor})"
    info = cpu_info()
    where = f"{info.vendor} family {info.family} model {info.model_number}" if info.family else info.vendor
    ext = " ".join(e for e in info.extensions() if e in HEADLINE_FLAGS)
    details = "; ".join(x for x in (where, ext or "no vector extensions known") if x)
    return f"{info.model} ({details})"


def _fallback_message(names: list[str], device: torch.device) -> str:
    parts = [f"{n}=bf16" for n in names]
    settings = " and ".join([", ".join(parts[:-1]), parts[-1]] if len(parts) > 1 else parts)
    if device.type == "cuda":
        why = (f"this GPU, {describe_device(device)}, has no native bfloat16 matrix arithmetic (compute "
               f"capability {CUDA_BF16_CAPABILITY[0]}.{CUDA_BF16_CAPABILITY[1]} and above)")
    else:
        why = (f"this CPU, {describe_device(device)}, has no native bfloat16 matrix arithmetic "
               f"(avx512_bf16 or amx_bf16 on x86, bf16 on Arm)")
    return (f"warning: {settings} run in fp32: {why}, so bf16 would be emulated, many times slower than fp32; "
            f"force_bf16=true keeps bf16")


def resolve_precisions(cfg, device: torch.device | str):
    """`cfg` with its precision settings made concrete (fp32 or bf16) for `device`; the same object when
    nothing changes. "bf16" without native bf16 becomes fp32 (one warning line; force_bf16 keeps bf16);
    "auto" becomes bf16 where bf16 is native and the probe finds it AUTO_MIN_SPEEDUP times as fast, else
    fp32 (one info line). Concrete settings resolve to themselves, so resolving twice changes nothing."""
    requested = {name: getattr(cfg, name) for name in PRECISION_SETTINGS}
    if all(value == "fp32" for value in requested.values()):
        return cfg  # the defaults: no detection at all
    device = torch.device(device)
    native = native_bf16(device)
    resolved, fallen = dict(requested), []
    for name, value in requested.items():
        if value == "bf16" and not (native or cfg.force_bf16):
            resolved[name] = "fp32"
            fallen.append(name)
    auto = [name for name, value in requested.items() if value == AUTO]
    if auto:
        speedup = bf16_speedup(str(device)) if native else None
        choice = "bf16" if speedup is not None and speedup >= AUTO_MIN_SPEEDUP else "fp32"
        resolved.update({name: choice for name in auto})
        why = (f"bf16 products ran {speedup:.2f}x as fast as fp32 in a probe (bf16 needs {AUTO_MIN_SPEEDUP}x)"
               if speedup is not None else "no native bfloat16 matrix arithmetic")
        logger.info("%s=auto run in %s on %s: %s", "=auto, ".join(auto), choice, describe_device(device), why)
    if fallen:
        logger.warning(_fallback_message(fallen, device))
    return cfg if resolved == requested else dataclasses.replace(cfg, **resolved)


def _build_info() -> dict[str, Any]:
    """torch's build: version, commit, CUDA/ROCm versions, BLAS and oneDNN, and the CPU kernels it uses."""
    build = {"version": torch.__version__, "git": torch.version.git_version, "cuda": torch.version.cuda,
             "hip": torch.version.hip, "debug": bool(torch.version.debug),
             "mkldnn": bool(torch.backends.mkldnn.is_available()), "openmp": bool(torch.backends.openmp.is_available())}
    for line in torch.__config__.show().splitlines():
        line = line.strip(" -")
        if line.startswith("CPU capability usage:"):
            build["cpu_capability_usage"] = line.split(":", 1)[1].strip()
        elif line.startswith("Build settings:"):
            for item in line.split(":", 1)[1].split(","):
                key, _, value = item.strip().partition("=")
                if key == "BLAS_INFO":
                    build["blas"] = value
    return build


def machine_record(device: torch.device | str) -> dict[str, Any]:
    """What a run directory records of its machine: the CPU's model and vector extensions, torch's build
    and thread counts, the device, and a GPU's name and compute capability."""
    device = torch.device(device)
    info = cpu_info()
    record: dict[str, Any] = {
        "cpu_model": info.model, "cpu_vendor": info.vendor, "cpu_family": info.family,
        "cpu_model_number": info.model_number, "cpu_vector_extensions": info.extensions(),
        "cpu_flags_source": info.source, "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "logical_cores": os.cpu_count(), "torch_build": _build_info(),
        "torch_threads": torch.get_num_threads(), "torch_interop_threads": torch.get_num_interop_threads(),
        "python": platform.python_version(), "platform": platform.platform(),
        "device": str(device), "native_bf16": native_bf16(device),
    }
    if device.type == "cuda":
        major, minor = torch.cuda.get_device_capability(device)
        record.update(cuda_device=torch.cuda.get_device_name(device), cuda_capability=f"{major}.{minor}")
    return record


def describe_machine(device: torch.device | str = "cpu") -> str:
    """One line naming the machine, for tables and benchmark headers: the device (CPU model, family and
    vector extensions, or GPU), torch's version and CPU kernels, and its thread count."""
    return (f"{describe_device(device)}; torch {torch.__version__} "
            f"({torch.backends.cpu.get_cpu_capability()} kernels), {torch.get_num_threads()} threads")
