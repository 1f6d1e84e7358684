"""edge-ecg bench and edge-ecg report write what their documented layouts promise.

No test here asserts a time: speed is measured by the bench itself (docs/benchmarks.md).
"""

from __future__ import annotations

import csv
import json
import shutil

import pytest
from click.testing import CliRunner
from conftest import REPO

from edge_ecg.cli import cli

SHIPPED = REPO / "edge_ecg" / "assets" / "fusion-int8-floatio.tflite"
FUSION = REPO / "models" / "fusion"


def invoke(*args) -> tuple[int, str, str]:
    r = CliRunner().invoke(cli, [str(a) for a in args])
    if r.exception and not isinstance(r.exception, SystemExit):
        raise r.exception
    return r.exit_code, r.stdout, r.stderr


def check_schema(report: dict) -> None:
    """The layout of the Bench issue, field by field."""
    assert {"host", "results", "end_to_end", "cold_start_s", "peak_rss_mb"} <= set(report)
    for key in ("cpu", "arch", "cores", "os", "python", "date"):
        assert key in report["host"], key
    assert report["results"]
    for r in report["results"]:
        assert isinstance(r["model"], str) and isinstance(r["backend"], str)
        assert isinstance(r["precision"], str) and isinstance(r["threads"], int)
        assert isinstance(r["size_bytes"], int) and r["size_bytes"] > 0
        lat = r["latency_ms"]
        assert set(lat) >= {"p50", "p90", "p99", "mean", "std"}
        assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"]
        assert r["throughput_bps"] > 0
    e2e = report["end_to_end"]
    assert isinstance(e2e["record"], str) and e2e["seconds"] > 0 and e2e["rtf"] > 0
    assert report["cold_start_s"] > 0 and report["peak_rss_mb"] > 0


@pytest.mark.slow
def test_bench_on_the_bundled_excerpt_writes_json_and_markdown(tmp_path, monkeypatch):
    monkeypatch.delenv("EDGE_ECG_DATA", raising=False)
    code, _, err = invoke(
        "bench", "--model", SHIPPED, "--threads", "1,2", "--duration", "0.05",
        "--json", tmp_path / "b.json", "--md", tmp_path / "b.md",
    )  # fmt: skip
    assert code == 0, err
    report = json.loads((tmp_path / "b.json").read_text())
    check_schema(report)
    precisions = [(r["precision"], r["threads"]) for r in report["results"]]
    assert precisions == [("int8-floatio", 1), ("int8-floatio", 2)]
    assert "excerpt" in report["end_to_end"]["record"]
    # a fresh runtime process holds numpy + LiteRT, not TensorFlow (which alone is ~600 MB)
    assert report["peak_rss_mb"] < 300
    md = (tmp_path / "b.md").read_text()
    assert "fusion-int8-floatio.tflite" in md and "p50" in md
    # --compare reads two result files and prints the ratios
    shutil.copy(tmp_path / "b.json", tmp_path / "c.json")
    code, out, err = invoke("bench", "--compare", tmp_path / "b.json", tmp_path / "c.json")
    assert code == 0, err
    assert "fusion-int8-floatio.tflite" in out and "1.00" in out


@pytest.mark.slow
@pytest.mark.data
def test_bench_two_leads_times_the_same_record_with_its_second_lead(
    tmp_path, data_dir, monkeypatch
):
    code, _, err = invoke(
        "bench", "--duration", "0.05", "--data-dir", data_dir, "--record", "119", "--two-leads",
        "--json", tmp_path / "b.json", "--md", tmp_path / "b.md",
    )  # fmt: skip
    assert code == 0, err
    report = json.loads((tmp_path / "b.json").read_text())
    check_schema(report)
    one, two = report["end_to_end"], report["end_to_end_two_leads"]
    assert one["record"] == "mitdb/119" and two["record"] == "mitdb/119 (MLII + V1)"
    assert two["ecg_seconds"] == one["ecg_seconds"] and two["seconds"] > 0
    assert abs(two["beats"] - one["beats"]) <= 5  # a clean record: the same beats, near enough
    assert "With two-lead detection" in (tmp_path / "b.md").read_text()
    monkeypatch.delenv("EDGE_ECG_DATA", raising=False)
    code, _, err = invoke("bench", "--two-leads", "--json", tmp_path / "c.json")
    assert code == 2 and "--data-dir" in err and not (tmp_path / "c.json").exists()


def test_bench_refuses_a_model_of_another_kind(tmp_path):
    bad = tmp_path / "m.pt"
    bad.write_bytes(b"x")
    code, _, err = invoke("bench", "--model", bad, "--json", tmp_path / "b.json")
    assert code == 2 and "m.pt" in err
    assert not (tmp_path / "b.json").exists()


def _run_copy(dst, variants: list[str]):
    """A RUN_DIR made of the shipped model's real files, with only some variants."""
    dst.mkdir()
    for name in ("metrics.json", "history.json", "config.yaml", "model.keras"):
        shutil.copy(FUSION / name, dst / name)
    (dst / "tflite").mkdir()
    for v in variants:
        for suffix in (".tflite", ".manifest.json", ".validate.json"):
            shutil.copy(FUSION / "tflite" / f"fusion-{v}{suffix}", dst / "tflite")
    return dst


def test_report_from_two_runs_writes_table_csv_and_pngs(tmp_path):
    a = _run_copy(tmp_path / "a", ["float32", "int8"])
    b = _run_copy(tmp_path / "b", ["fp16"])
    out = tmp_path / "report"
    code, _, err = invoke("report", "--runs", a, "--runs", b, "--out-dir", out)
    assert code == 0, err
    rows = list(csv.DictReader((out / "report.csv").open()))
    assert [(r["run"], r["variant"].split()[-1]) for r in rows] == [
        ("a", "float32"), ("a", "float32"), ("a", "int8"), ("b", "float32"), ("b", "fp16"),
    ]  # fmt: skip
    int8 = next(r for r in rows if r["variant"].endswith("int8"))
    keras = json.loads((FUSION / "tflite" / "fusion-int8.validate.json").read_text())
    assert float(int8["accuracy"]) == pytest.approx(keras["candidate"]["accuracy"])
    assert float(int8["size_kb"]) < float(rows[0]["size_kb"])
    md = (out / "report.md").read_text()
    assert "| a |" in md and "| b |" in md
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert "pareto.png" in pngs and len([p for p in pngs if p.startswith("confusion")]) == 5
    for p in out.glob("*.png"):
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(out.glob("*.tmp*"))


@pytest.mark.slow
@pytest.mark.data
def test_onnx_peer_is_the_same_model_and_benches(tmp_path, data_dir):
    """tf2onnx of the frozen export graph matches float32 TFLite, and benches as a peer."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("tf2onnx")
    from firmware_bench.onnx_export import main as onnx_export

    onnx = tmp_path / "fusion.onnx"
    r = CliRunner().invoke(
        onnx_export, [str(FUSION / "model.keras"), str(onnx), "--data-dir", str(data_dir)]
    )
    assert r.exit_code == 0, r.output
    assert "max |diff| vs float32 TFLite" in r.output and onnx.stat().st_size > 10_000
    code, _, err = invoke(
        "bench", "--model", SHIPPED, "--model", onnx, "--threads", "1", "--duration", "0.05",
        "--data-dir", data_dir, "--json", tmp_path / "b.json",
    )  # fmt: skip
    assert code == 0, err
    report = json.loads((tmp_path / "b.json").read_text())
    check_schema(report)
    assert [r["backend"].split()[0] for r in report["results"]] == ["litert", "onnxruntime"]
