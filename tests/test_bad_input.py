"""The bad-input catalogue (docs/errors.md): one line naming the problem, exit 2, no traceback,
and no output file left behind, across the commands."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import REPO

from edge_ecg.cli import cli

SHIPPED = REPO / "edge_ecg" / "assets" / "fusion-int8-floatio.tflite"


def copy_record(mitdb, dst, name="100"):
    for ext in ("hea", "dat", "atr"):
        shutil.copy(mitdb / f"{name}.{ext}", dst / f"{name}.{ext}")
    return dst / name


def signal_file(tmp_path, values, name="x.npy"):
    path = tmp_path / name
    np.save(path, np.asarray(values))
    return path


def ecg(seconds=20.0, fs=360.0):
    from edge_ecg.synthetic import synthetic_ecg

    return synthetic_ecg(seconds=seconds, fs=fs).signal


def plain_keras(tmp, lambda_layer=False):
    """A tiny .keras model with the runtime's inputs (optionally with a Python Lambda layer)."""
    keras = pytest.importorskip("keras")
    from edge_ecg.spec import CHANNELS, N_RR, WINDOW

    window, rr = keras.Input((WINDOW, CHANNELS), name="window"), keras.Input((N_RR,), name="rr")
    x = keras.layers.Concatenate()([keras.layers.Flatten()(window), rr])
    if lambda_layer:
        x = keras.layers.Lambda(lambda t: t * 2.0)(x)
    out = keras.layers.Dense(5, activation="softmax")(x)
    path = tmp / ("lambda.keras" if lambda_layer else "plain.keras")
    keras.Model([window, rr], out).save(path)
    return path


def calibration_npz(tmp, n=50, labels=None, damage=None):
    from edge_ecg.spec import CHANNELS, N_RR, WINDOW

    rng = np.random.default_rng(0)
    arrays = {
        "windows": rng.normal(size=(n, WINDOW, CHANNELS)),
        "rr": rng.uniform(0.5, 1.5, (n, N_RR)),
    }
    if labels is not None:
        arrays["labels"] = labels
    if damage:
        damage(arrays)
    path = tmp / "calib.npz"
    np.savez(path, **arrays)
    return path


def _convert_with(t, **calib):
    model = plain_keras(t)
    cal = calibration_npz(t, **calib)
    return [
        "convert",
        str(model),
        "--int8",
        "--calibration",
        str(cal),
        "--out-dir",
        str(t / "out"),
    ], None


def _nan_beat(arrays):
    arrays["rr"][7, 3] = np.nan


# Each case: a builder (tmp_path, mitdb) -> (argv, stdin bytes or None) and a substring that the
# one-line message must contain.
def _rec(tmp, mitdb, damage):
    rec = copy_record(mitdb, tmp)
    damage(rec)
    return ["classify", str(rec), "--format", "csv", "--out-dir", str(tmp / "out")], None


def _truncate_dat(rec):
    data = rec.with_suffix(".dat").read_bytes()
    rec.with_suffix(".dat").write_bytes(data[: len(data) // 3])


def _hea_text(text):
    return lambda rec: rec.with_suffix(".hea").write_text(text)


def _w(*args):
    """_w(<write the case's file>, argv) or _w((<write>, argv)): (argv, no stdin)."""
    _written, argv = args[0] if len(args) == 1 else args
    return argv, None


CASES = {
    "missing .dat": (lambda t, m: _rec(t, m, lambda r: r.with_suffix(".dat").unlink()), "100.dat"),
    "truncated .dat": (lambda t, m: _rec(t, m, _truncate_dat), "truncated"),
    "empty .dat": (
        lambda t, m: _rec(t, m, lambda r: r.with_suffix(".dat").write_bytes(b"")),
        "100.dat",
    ),
    "garbage .hea": (lambda t, m: _rec(t, m, _hea_text("\x00\x01garbage\n")), "100.hea"),
    "inconsistent .hea (2 signals declared, 1 line)": (
        lambda t, m: _rec(
            t, m, _hea_text("100 2 360 650000\n100.dat 212 200 11 1024 995 -22131 0 MLII\n")
        ),
        "100",
    ),
    "unknown record": (
        lambda t, m: (
            ["classify", str(t / "nope"), "--format", "csv", "--out-dir", str(t / "out")],
            None,
        ),
        "nope",
    ),
    "no such lead": (
        lambda t, m: (
            [
                "classify",
                str(copy_record(m, t)),
                "--lead",
                "V9",
                "--out-dir",
                str(t / "out"),
                "--format",
                "csv",
            ],
            None,
        ),
        "MLII",
    ),
    "fs below 100 Hz in header": (
        lambda t, m: _rec(
            t,
            m,
            lambda r: r.with_suffix(".hea").write_text(
                r.with_suffix(".hea").read_text().replace(" 360 ", " 50 ", 1)
            ),
        ),
        "100",
    ),
    "--fs missing for .npy": (
        lambda t, m: (["classify", str(signal_file(t, ecg())), "--format", "csv"], None),
        "--fs",
    ),
    "--fs below 100": (
        lambda t, m: (["classify", str(signal_file(t, ecg())), "--fs", "50"], None),
        "100",
    ),
    "NaN samples": (
        lambda t, m: (
            [
                "classify",
                str(signal_file(t, np.r_[ecg()[:100], np.nan, ecg()[:100]])),
                "--fs",
                "360",
            ],
            None,
        ),
        "NaN",
    ),
    "inf samples": (
        lambda t, m: (
            [
                "classify",
                str(signal_file(t, np.r_[ecg()[:100], np.inf, ecg()[:5000]])),
                "--fs",
                "360",
            ],
            None,
        ),
        "inf",
    ),
    "absurdly large samples": (
        lambda t, m: (
            [
                "classify",
                str(signal_file(t, np.r_[ecg()[:100], 1e200, ecg()[:5000]])),
                "--fs",
                "360",
            ],
            None,
        ),
        "beyond any ECG unit",
    ),
    "signal shorter than a window": (
        lambda t, m: (["classify", str(signal_file(t, ecg()[:50])), "--fs", "360"], None),
        "window",
    ),
    "empty .npy": (
        lambda t, m: (["classify", str(signal_file(t, np.zeros(0))), "--fs", "360"], None),
        "x.npy",
    ),
    ".npy of the wrong shape": (
        lambda t, m: (["classify", str(signal_file(t, np.zeros((3, 4, 5)))), "--fs", "360"], None),
        "x.npy",
    ),
    ".npy of the wrong dtype": (
        lambda t, m: (["classify", str(signal_file(t, np.array(["a", "b"]))), "--fs", "360"], None),
        "x.npy",
    ),
    ".npy that is not a .npy": (
        lambda t, m: _w(
            (
                (t / "x.npy").write_bytes(b"not numpy"),
                ["classify", str(t / "x.npy"), "--fs", "360"],
            )
        ),
        "x.npy",
    ),
    ".csv with text": (
        lambda t, m: _w(
            (
                (t / "x.csv").write_text("1.0\n2.0\nabc\n3.0\n"),
                ["classify", str(t / "x.csv"), "--fs", "360"],
            )
        ),
        "x.csv",
    ),
    ".csv with ragged rows": (
        lambda t, m: _w(
            (
                (t / "x.csv").write_text("a,b\n1,2\n3\n4,5\n"),
                ["classify", str(t / "x.csv"), "--fs", "360"],
            )
        ),
        "x.csv",
    ),
    "stdin without --fs": (
        lambda t, m: (["classify", "-", "--dtype", "int16"], b"\x00\x01" * 100),
        "--fs",
    ),
    "stdin with a partial sample at the end": (
        lambda t, m: (
            ["classify", "-", "--dtype", "int16", "--fs", "360", "--format", "csv"],
            (np.asarray(ecg() * 200, np.int16).tobytes() + b"\x01"),
        ),
        "partial",
    ),
    "empty stdin stream": (
        lambda t, m: (["classify", "-", "--dtype", "float32", "--fs", "360"], b""),
        "stdin",
    ),
    "model that is not a model": (
        lambda t, m: _w(
            (
                (t / "m.tflite").write_bytes(b"hello world, not a model"),
                [
                    "classify",
                    str(signal_file(t, ecg())),
                    "--fs",
                    "360",
                    "--model",
                    str(t / "m.tflite"),
                ],
            )
        ),
        "m.tflite",
    ),
    "truncated .tflite": (
        lambda t, m: _w(
            (
                (t / "m.tflite").write_bytes(SHIPPED.read_bytes()[:5000]),
                [
                    "classify",
                    str(signal_file(t, ecg())),
                    "--fs",
                    "360",
                    "--model",
                    str(t / "m.tflite"),
                ],
            )
        ),
        "m.tflite",
    ),
    "model of another file type": (
        lambda t, m: _w(
            (
                (t / "m.onnx").write_bytes(b"x"),
                [
                    "classify",
                    str(signal_file(t, ecg())),
                    "--fs",
                    "360",
                    "--model",
                    str(t / "m.onnx"),
                ],
            )
        ),
        "m.onnx",
    ),
    "inspect a non-model": (
        lambda t, m: _w(
            (t / "m.tflite").write_bytes(b"\x00" * 64), ["inspect", str(t / "m.tflite")]
        ),
        "m.tflite",
    ),
    "validate with a missing candidate": (
        lambda t, m: (
            [
                "validate",
                "--reference",
                str(SHIPPED),
                "--candidate",
                str(t / "none.tflite"),
                "--data-dir",
                str(m.parent),
            ],
            None,
        ),
        "none.tflite",
    ),
    "convert a non-keras file": (
        lambda t, m: (["convert", str(SHIPPED), "--int8", "--out-dir", str(t / "out")], None),
        "keras",
    ),
    "data dir that does not exist": (
        lambda t, m: (["data", "stats", "--data-dir", str(t / "nowhere")], None),
        "nowhere",
    ),
    "data verify on an empty dir": (
        lambda t, m: _w(
            (
                (t / "d" / "mitdb").mkdir(parents=True),
                ["data", "verify", "--data-dir", str(t / "d")],
            )
        ),
        "mitdb",
    ),
    "unknown --format": (
        lambda t, m: (
            ["classify", str(signal_file(t, ecg())), "--fs", "360", "--format", "xml"],
            None,
        ),
        "format",
    ),
    "threads 0": (
        lambda t, m: (
            ["classify", str(signal_file(t, ecg())), "--fs", "360", "--threads", "0"],
            None,
        ),
        "threads",
    ),
    "--format wfdb without --out-dir": (
        lambda t, m: (
            ["classify", str(signal_file(t, ecg())), "--fs", "360", "--format", "wfdb"],
            None,
        ),
        "--out-dir",
    ),
    "bench with a model of another kind": (
        lambda t, m: _w((t / "m.pt").write_bytes(b"x"), ["bench", "--model", str(t / "m.pt")]),
        "m.pt",
    ),
    "keras model with a Lambda layer (code)": (
        lambda t, m: (
            [
                "convert",
                str(plain_keras(t, lambda_layer=True)),
                "--float32",
                "--out-dir",
                str(t / "o"),
            ],
            None,
        ),
        "Lambda",
    ),
    "empty calibration set": (lambda t, m: _convert_with(t, n=0), "empty"),
    "one-class calibration set": (
        lambda t, m: _convert_with(t, labels=np.zeros(50, np.int64)),
        "class N",
    ),
    "calibration set with NaN": (lambda t, m: _convert_with(t, damage=_nan_beat), "beat 7"),
    "calibration set of the wrong shape": (
        lambda t, m: _convert_with(t, damage=lambda a: a.update(rr=a["rr"][:, :5])),
        "rr has shape",
    ),
    "calibration labels that are not classes": (
        lambda t, m: _convert_with(t, labels=np.full(50, 9)),
        "labels",
    ),
    "--two-leads on a one-column .csv": (
        lambda t, m: _w(
            (
                (t / "x.csv").write_text("\n".join(f"{v:.4f}" for v in ecg()) + "\n"),
                ["detect", str(t / "x.csv"), "--fs", "360", "--two-leads"],
            )
        ),
        "two leads need two columns",
    ),
    "--two-leads on a 1-D .npy": (
        lambda t, m: (
            ["classify", str(signal_file(t, ecg())), "--fs", "360", "--two-leads"],
            None,
        ),
        "(n, 2)",
    ),
    "--second-lead naming no lead of the record": (
        lambda t, m: (
            ["detect", str(copy_record(m, t)), "--second-lead", "V1"],
            None,
        ),
        "--second-lead",
    ),
    "--second-lead naming the classified lead": (
        lambda t, m: (
            ["detect", str(copy_record(m, t)), "--second-lead", "MLII"],
            None,
        ),
        "--second-lead",
    ),
    "two-lead stdin with a partial frame at the end": (
        lambda t, m: (
            ["detect", "-", "--dtype", "int16", "--fs", "360", "--two-leads"],
            np.asarray(np.repeat(ecg() * 200, 2), np.int16).tobytes() + b"\x01\x00",
        ),
        "partial frame",
    ),
    "--second-lead on stdin (no lead names there)": (
        lambda t, m: (
            ["detect", "-", "--dtype", "int16", "--fs", "360", "--second-lead", "V1"],
            b"\x00\x01" * 100,
        ),
        "--second-lead",
    ),
    "unwritable output directory": (
        lambda t, m: _w(
            (t / "ro").write_text("a file, not a dir"),
            [
                "classify",
                str(signal_file(t, ecg())),
                "--fs",
                "360",
                "--format",
                "json",
                "--out-dir",
                str(t / "ro" / "sub"),
            ],
        ),
        "ro",
    ),
}


@pytest.mark.data
@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_line_exit_2_and_leaves_nothing(case, tmp_path, mitdb):
    build, needle = CASES[case]
    argv, stdin = build(tmp_path, mitdb)
    before = {p for p in tmp_path.rglob("*")}
    r = CliRunner().invoke(cli, argv, input=stdin)
    assert r.exit_code == 2, (case, r.exit_code, r.output)
    err = r.stderr.strip()
    assert "Traceback" not in r.output and "Traceback" not in err
    # one line; click's usage errors put theirs last, after the usage hint
    assert needle.lower() in err.splitlines()[-1].lower(), (case, err)
    assert len(err.splitlines()) == 1 or err.startswith("Usage:"), err
    left = {p for p in tmp_path.rglob("*")} - before
    assert not [p for p in left if p.is_file()], left


FULL_DISK = (
    "import resource, signal, sys\n"
    "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"  # then write() fails with EFBIG
    "resource.setrlimit(resource.RLIMIT_FSIZE, (2000, 2000))\n"
    "from edge_ecg.cli import main\n"
    "sys.argv = ['edge-ecg', *sys.argv[1:]]\n"
    "main()\n"
)


@pytest.mark.data
@pytest.mark.parametrize("fmt", ["json", "csv", "wfdb"])
def test_disk_filling_up_mid_write_leaves_nothing(fmt, tmp_path, mitdb):
    """A 2 kB file-size limit makes the write fail partway through, as a full disk does."""
    out = tmp_path / "out"
    r = subprocess.run(
        [sys.executable, "-c", FULL_DISK, "classify", str(mitdb / "100"), "--format", fmt,
         "--out-dir", str(out)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert r.returncode == 2, r.stderr
    err = r.stderr.strip().splitlines()[-1]
    assert "Traceback" not in r.stderr
    assert f"100.{'edge' if fmt == 'wfdb' else fmt}" in err and "nothing was written" in err, err
    assert not [p for p in out.rglob("*") if p.is_file()]


def test_no_space_left_on_device_leaves_nothing(tmp_path, monkeypatch):
    """A writer that fails with ENOSPC halfway: one line, exit 2, no partial file."""
    real = Path.write_bytes

    def half_then_full(self, data):
        real(self, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Path, "write_bytes", half_then_full)
    out = tmp_path / "out"
    signal = signal_file(tmp_path, ecg())
    argv = ["classify", str(signal), "--fs", "360", "--format", "wfdb", "--out-dir", str(out)]
    r = CliRunner().invoke(cli, argv)
    assert r.exit_code == 2, r.output
    assert "No space left on device" in r.stderr and "x.edge" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not [p for p in out.rglob("*") if p.is_file()]


def test_custom_class_in_a_keras_file_is_refused_and_its_module_never_imported(
    tmp_path, monkeypatch
):
    """A .keras whose config names a class in a module on sys.path: refused, nothing runs."""
    import json
    import zipfile

    marker = tmp_path / "RAN"
    (tmp_path / "payload_module.py").write_text(
        f"import pathlib\npathlib.Path({str(marker)!r}).write_text('ran')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    plain = plain_keras(tmp_path)
    with zipfile.ZipFile(plain) as z:
        files = {n: z.read(n) for n in z.namelist()}
    config = json.loads(files["config.json"])
    for layer in config["config"]["layers"]:
        if layer["class_name"] == "Dense":
            layer.update(class_name="Boom", module="payload_module", registered_name="Boom")
    files["config.json"] = json.dumps(config).encode()
    custom = tmp_path / "custom.keras"
    with zipfile.ZipFile(custom, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    out = tmp_path / "out"
    r = CliRunner().invoke(cli, ["convert", str(custom), "--float32", "--out-dir", str(out)])
    assert r.exit_code == 2, r.output
    assert "custom.keras" in r.stderr and "'Boom'" in r.stderr and "never runs code" in r.stderr
    assert not marker.exists()
    assert not out.exists() or not any(out.iterdir())


STUDIES = {
    "train.rhythm_rule": ["--data-dir", "{missing}"],
    "train.causality": ["--data-dir", "{missing}"],
    "train.rhythm": ["--data-dir", "{missing}"],
    "train.calibration_age": ["--data-dir", "{missing}"],
    "train.prior_shift": ["--data-dir", "{missing}"],
    "train.patient_specific": ["errors", "{missing}", "--md", "{out}"],
    "train.ablation": ["summarize", "--runs", "{missing}", "--md", "{out}"],
    "train.adaptive_study": ["summarize", "--runs", "{missing}", "--md", "{out}"],
}


@pytest.mark.parametrize("module", sorted(STUDIES))
def test_study_scripts_report_bad_input_as_edge_ecg_does(module, tmp_path):
    """The `python -m train.*` studies: a missing data folder, or no finished run to
    summarize, is one line naming it and exit 2, never a traceback or an empty table."""
    import importlib

    missing, out = tmp_path / "nope", tmp_path / "table.md"
    args = [a.format(missing=missing, out=out) for a in STUDIES[module]]
    study = importlib.import_module(module)
    r = CliRunner().invoke(getattr(study, "main", None) or study.cli, args)
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output
    assert str(missing) in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_a_studys_dash_means_stdout_never_a_file_named_dash(tmp_path, monkeypatch, capsys):
    """`--json -` and `--md -` on a study: the JSON alone on stdout (parseable), the table on
    stderr, and no file called '-' (one was once committed by accident)."""
    import json

    from train.study_output import emit_study

    monkeypatch.chdir(tmp_path)
    emit_study({"accuracy": 0.9}, lambda r: f"| accuracy | {r['accuracy']} |\n", "-", "-")
    out, err = capsys.readouterr()
    assert json.loads(out) == {"accuracy": 0.9} and "| accuracy | 0.9 |" in err
    assert not (tmp_path / "-").exists()
