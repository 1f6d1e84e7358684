"""The bad-input catalogue (docs/errors.md): one line naming the problem, exit 2, no traceback,
and no output file left behind, across the commands."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import REPO

from edge_ecg.cli import cli

SHIPPED = REPO / "edge_ecg" / "assets" / "fusion-int8.tflite"


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
