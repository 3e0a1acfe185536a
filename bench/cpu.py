"""The CPU a benchmark ran on, for its printed figures: model, logical CPUs, the vector flags that
decide speed here (AVX2, FMA, AVX-512, VNNI, AMX) and the load average (these cores are shared)."""

from __future__ import annotations

import os
import subprocess

_FLAGS = ("avx2", "fma", "avx_vnni", "amx_bf16", "amx_int8")


def cpu_description() -> str:
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return "cpu: lscpu not available"
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    flags = fields.get("Flags", "").split()
    wanted = [f for f in flags if f in _FLAGS or f.startswith("avx512")]
    return (f"cpu: {fields.get('Model name', '?').strip()}, {os.cpu_count()} logical cpus, "
            f"flags: {' '.join(wanted) or 'no avx2/avx512'}; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
