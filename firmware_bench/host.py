"""Describe the machine a benchmark ran on, so results from different devices can be compared."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import os
import platform
from pathlib import Path

PACKAGES = ("edge-ecg", "numpy", "ai-edge-litert", "tflite-runtime", "tensorflow", "onnxruntime")


def cpu_model() -> str:
    """CPU model name from /proc/cpuinfo (Linux, incl. Raspberry Pi), else platform's guess."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Model", "Hardware", "cpu model"):
                return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def host_info() -> dict:
    """CPU, arch, cores, OS, Python and library versions, and the date."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "cpu": cpu_model(),
        "arch": platform.machine(),
        "cores": os.cpu_count(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "packages": versions,
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
