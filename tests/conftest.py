"""Shared fixtures: where the real PhysioNet data is (EDGE_ECG_DATA, else ../shared/data)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _data_dir() -> Path:
    return Path(os.environ.get("EDGE_ECG_DATA") or REPO.parent / "shared" / "data")


DATA_DIR = _data_dir()
HAVE_DATA = (DATA_DIR / "mitdb" / "100.hea").is_file()

if not HAVE_DATA and os.environ.get("CI"):
    raise RuntimeError(f"CI needs the PhysioNet data at {DATA_DIR} (set EDGE_ECG_DATA)")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not HAVE_DATA:
        pytest.skip(f"PhysioNet data not found at {DATA_DIR} (set EDGE_ECG_DATA)")
    return DATA_DIR


@pytest.fixture(scope="session")
def mitdb(data_dir: Path) -> Path:
    return data_dir / "mitdb"
