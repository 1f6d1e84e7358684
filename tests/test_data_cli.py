"""``edge-ecg data``: counts on the real records and one clear line for each bad input."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from edge_ecg.cli import cli

DE_CHAZAL = {
    "DS1": {"N": 45866, "S": 944, "V": 3788, "F": 415, "Q": 8},
    "DS2": {"N": 44259, "S": 1837, "V": 3221, "F": 388, "Q": 7},
}


def run(*args, env=None):
    return CliRunner().invoke(cli, list(args), env=env or {})


@pytest.mark.data
@pytest.mark.slow
def test_stats_match_de_chazal_counts(data_dir):
    result = run("data", "stats", "--data-dir", str(data_dir), "--json", "-")
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)
    assert {k: stats[k] for k in ("DS1", "DS2")} == DE_CHAZAL
    # usable + dropped add up to the reference counts, and only a few edge beats are lost
    for split in ("DS1", "DS2"):
        for c in "NSVFQ":
            assert stats["usable"][split][c] + stats["dropped"][split][c] == DE_CHAZAL[split][c]
        assert sum(stats["dropped"][split][c] for c in "NSVFQ") <= 2 * 22
    assert len(stats["records"]) == 44
    assert stats["records"]["208"]["V"] == 992


@pytest.mark.data
def test_verify_accepts_the_shared_copy(data_dir):
    result = run("data", "verify", "--db", "mitdb", "--data-dir", str(data_dir))
    assert result.exit_code == 0, result.output


def test_missing_data_dir_names_path_and_fetch(tmp_path):
    result = run("data", "stats", "--data-dir", str(tmp_path / "nowhere"))
    assert result.exit_code == 2
    assert "nowhere" in result.output and "edge-ecg data fetch" in result.output
    assert "Traceback" not in result.output


def test_no_data_dir_at_all_says_how_to_set_it():
    result = run("data", "stats", env={"EDGE_ECG_DATA": ""})
    assert result.exit_code == 2
    assert "--data-dir" in result.output and "EDGE_ECG_DATA" in result.output


def test_verify_spots_an_altered_file(mitdb, tmp_path):
    copy = tmp_path / "mitdb"
    copy.mkdir()
    for name in ("SHA256SUMS", "100.hea", "100.atr", "100.dat"):
        shutil.copy(mitdb / name, copy / name)
    sums = (copy / "SHA256SUMS").read_text().splitlines()
    (copy / "SHA256SUMS").write_text(
        "\n".join(line for line in sums if line.split()[-1].startswith("100.")) + "\n"
    )
    assert run("data", "verify", "--db", "mitdb", "--data-dir", str(tmp_path)).exit_code == 0
    with open(copy / "100.dat", "r+b") as f:
        f.seek(1000)
        f.write(b"\x00\x01\x02")
    result = run("data", "verify", "--db", "mitdb", "--data-dir", str(tmp_path))
    assert result.exit_code == 2
    assert "100.dat" in result.output
