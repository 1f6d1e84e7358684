"""Write docs/quantization.md: every precision and export path of one model, side by side.

Every number in the document is measured by this script in one run (sizes, DS2 drift against
the Keras model, LiteRT latency per beat with 1 thread, TFLite Micro arena and agreement), and
the document starts with the command, host and date that produced it, so re-running the
command on the shipped model regenerates it::

    python -m convert.quantization_report --model runs/probe/mask0/model.keras \\
        --data-dir ../shared/data --out docs/quantization.md
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import shlex
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import click
import numpy as np

from edge_ecg.atomic import write_text
from edge_ecg.errors import EdgeEcgError
from edge_ecg.manifest import sha256_bytes
from edge_ecg.options import data_dir_option, progress

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

#: The issue's targets for the int8 file (docs/quantization.md checks each).
TARGETS = {
    "max_bytes": 48 * 1024,
    "min_ratio": 2.75,
    "min_agreement": 0.997,
    "max_acc_drop": 0.003,
    "max_class_se_drop": 0.01,
}


@dataclass
class Variant:
    """One .tflite file under comparison and what was measured on it."""

    name: str
    path: Path
    report: dict = field(default_factory=dict)
    latency_us: tuple[float, float] = (0.0, 0.0)
    ops: int = 0
    non_integer: int = 0

    @property
    def bytes(self) -> int:
        return self.path.stat().st_size


def latency(paths: dict[str, Path], windows, rr, rounds: int = 5) -> dict[str, tuple]:
    """Median and 90th percentile µs per invoke of each file, measured round-robin.

    LiteRT, 1 thread, default delegates (what ``edge-ecg classify`` runs); inputs are set
    before the clock starts, so only ``invoke`` is timed. Interleaving the files in rounds
    spreads the noise of a shared CPU over all of them alike.
    """
    from ai_edge_litert.interpreter import Interpreter

    runners = {}
    for name, path in paths.items():
        interp = Interpreter(model_path=str(path), num_threads=1)
        interp.allocate_tensors()
        feeds = []
        for d in interp.get_input_details():
            x = windows if len(d["shape"]) == 3 else rr
            scale, zero_point = d["quantization"]
            if scale:
                x = np.clip(np.round(x / scale) + zero_point, -128, 127)
            feeds.append((d["index"], x.astype(d["dtype"])[:, None]))
        runners[name] = (interp, feeds)
    times: dict[str, list[int]] = {name: [] for name in paths}
    for _ in progress(range(rounds), "latency rounds"):
        for name, (interp, feeds) in runners.items():
            for b in range(len(windows)):
                for index, x in feeds:
                    interp.set_tensor(index, x[b])
                start = time.perf_counter_ns()
                interp.invoke()
                times[name].append(time.perf_counter_ns() - start)
    return {
        name: (float(np.median(t)) / 1e3, float(np.percentile(t, 90)) / 1e3)
        for name, t in times.items()
    }


def _host() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.release()}"


def _pct(x: float | None, digits: int = 2) -> str:
    return "–" if x is None else f"{100 * x:.{digits}f}"


def _pp(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:+.2f}"


def _class_cell(report: dict, c: str, key: str) -> str:
    value = report["candidate"]["classes"][c][key]
    delta = report["delta"]["classes"][c][key]
    return f"{_pct(value, 1)} ({_pp(delta)})"


def _precision_table(variants: list[Variant], float_bytes: int) -> list[str]:
    lines = [
        "| precision | file KB | x smaller than float32 | ops | agreement % | accuracy % (Δ pp) "
        "| S Se % (Δ) | S +P % (Δ) | V Se % (Δ) | V +P % (Δ) | µs/beat (p90) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for v in variants:
        r = v.report
        lines.append(
            f"| {v.name} | {v.bytes / 1024:.1f} | {float_bytes / v.bytes:.2f} | {v.ops} | "
            f"{_pct(r['agreement'])} | {_pct(r['candidate']['accuracy'])} "
            f"({_pp(r['delta']['accuracy'])}) | {_class_cell(r, 'S', 'se')} | "
            f"{_class_cell(r, 'S', 'ppv')} | {_class_cell(r, 'V', 'se')} | "
            f"{_class_cell(r, 'V', 'ppv')} | {v.latency_us[0]:.1f} ({v.latency_us[1]:.1f}) |"
        )
    lines += [
        "",
        "| precision | cosine | RMSE | max abs error | SNR dB | KL (nats) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for v in variants:
        p = v.report["probabilities"]
        snr = "∞" if p["snr_db"] is None else f"{p['snr_db']:.1f}"
        lines.append(
            f"| {v.name} | {p['cosine']:.6f} | {p['rmse']:.5f} | {p['max_abs']:.4f} | {snr} | "
            f"{p['kl']:.2e} |"
        )
    return lines


def _targets(int8: Variant, float_bytes: int) -> list[str]:
    r = int8.report
    se_drops = {
        c: -r["delta"]["classes"][c]["se"]
        for c in r["reference"]["classes"]
        if r["reference"]["classes"][c]["support"] and r["delta"]["classes"][c]["se"] is not None
    }
    worst = max(se_drops, key=se_drops.get)
    checks = [
        (f"file {int8.bytes / 1024:.1f} KB ≤ 48 KB", int8.bytes <= TARGETS["max_bytes"]),
        (
            f"{float_bytes / int8.bytes:.3f}x smaller than float32 (≥ 2.75x)",
            float_bytes / int8.bytes >= TARGETS["min_ratio"],
        ),
        (
            f"agreement {_pct(r['agreement'])} % (≥ 99.7 %)",
            r["agreement"] >= TARGETS["min_agreement"],
        ),
        (
            f"accuracy drop {-100 * r['delta']['accuracy']:.2f} pp (≤ 0.3 pp)",
            -r["delta"]["accuracy"] <= TARGETS["max_acc_drop"],
        ),
        (
            f"largest class Se drop {100 * se_drops[worst]:.2f} pp ({worst}; ≤ 1 pp)",
            se_drops[worst] <= TARGETS["max_class_se_drop"],
        ),
    ]
    return [f"- {'met' if ok else '**not met**'}: {text}" for text, ok in checks]


def _export_table(rows: list[tuple[str, Variant, Variant]]) -> list[str]:
    lines = [
        "| export path | int8 KB | float32 KB | x smaller | int8 ops | non-int8 ops | "
        "agreement % | accuracy Δ pp | RMSE | int8 µs/beat |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, q, f in rows:
        r = q.report
        lines.append(
            f"| {name} | {q.bytes / 1024:.1f} | {f.bytes / 1024:.1f} | {f.bytes / q.bytes:.2f} | "
            f"{q.ops} | {q.non_integer} | {_pct(r['agreement'])} | "
            f"{_pp(r['delta']['accuracy'])} | {r['probabilities']['rmse']:.5f} | "
            f"{q.latency_us[0]:.1f} |"
        )
    return lines


def _export_variants(model_path: Path, ds1, options) -> list[tuple[str, bytes, bytes]]:
    """(name, int8 bytes, float32 bytes) of each export path we tried."""
    import keras

    from .calibration import calibration_set
    from .export import ExportModel
    from .int8 import int8_tflite
    from .packing import compact
    from .tflite import frozen_function, to_tflite

    model = keras.saving.load_model(model_path, safe_mode=True, compile=False)
    cal = calibration_set(ds1.windows, ds1.rr, ds1.labels, options.calib_size, options.seed)
    out = []
    for lstm in ("keras-unroll", "joined"):
        frozen = frozen_function(ExportModel(model, lstm=lstm))
        raw = {m: to_tflite(frozen, m, cal, per_channel=False) for m in ("int8", "float32")}
        label = "Keras LSTM(unroll=True)" if lstm == "keras-unroll" else "joined-direction LSTM"
        out.append(
            (f"{label}, per-tensor, compacted", compact(raw["int8"]), compact(raw["float32"]))
        )
        if lstm == "joined":
            # What the shipped file adds to the plain converter: percentile ranges, the window
            # range over the channels read, and per-step (shipped) or shared LSTM ranges.
            shared = ("shared", "one per LSTM quantity but c")
            for steps, what in (("per-step", "per step"), shared):
                shipped = int8_tflite(frozen, cal, range_percentile=options.range_percentile,
                                      step_ranges=steps)  # fmt: skip
                out.append(
                    (
                        f"{label}, shipped ranges, {what}, compacted",
                        compact(shipped),
                        compact(raw["float32"]),
                    )
                )
            per_channel = to_tflite(frozen, "int8", cal, per_channel=True)
            out.append(
                (f"{label}, per-channel, compacted", compact(per_channel), compact(raw["float32"]))
            )
            out.append((f"{label}, per-tensor, names kept", raw["int8"], raw["float32"]))
            out.append(
                (
                    f"{label}, per-tensor, names stripped only",
                    compact(raw["int8"], share=False),
                    compact(raw["float32"], share=False),
                )
            )
    return out


def build_report(model_path: Path, data_dir, work: Path, calib_size: int, command: str) -> str:
    """Convert, measure and render; see the module docstring."""
    from edge_ecg.interpreter import TFLiteModel
    from edge_ecg.models import KerasModel
    from train.beatset import load_beats

    from .converter import Options, convert_keras_model, versions
    from .graph import non_integer_ops, ops_by_type
    from .per_layer import BEATS, per_layer_report
    from .tflite import MODES
    from .validate import predict_all, report_from_probabilities

    log = lambda msg: click.echo(msg, err=True)  # noqa: E731
    ds1 = load_beats(data_dir, "DS1", progress=progress)
    ds2 = load_beats(data_dir, "DS2", progress=progress)
    options = Options(calib_size=calib_size)
    shipped = convert_keras_model(
        model_path, MODES, work / "precisions", ds1, options, command, c_array=True, log=log
    )
    keras_model = KerasModel(model_path)
    p_ref = predict_all(keras_model, ds2.windows, ds2.rr, progress)

    def measure(name: str, path: Path) -> Variant:
        data = path.read_bytes()
        v = Variant(name, path, ops=sum(ops_by_type(data).values()))
        v.non_integer = sum(non_integer_ops(data).values())
        p = predict_all(TFLiteModel(path, verify=False), ds2.windows, ds2.rr, progress)
        v.report = report_from_probabilities(p_ref, p, ds2.labels)
        return v

    precisions = [measure(r.mode, r.path) for r in shipped]
    exports = []
    for name, q, f in _export_variants(model_path, ds1, options):
        slug = f"export-{len(exports)}"
        (work / f"{slug}-int8.tflite").write_bytes(q)
        (work / f"{slug}-float32.tflite").write_bytes(f)
        exports.append(
            (
                name,
                measure(name, work / f"{slug}-int8.tflite"),
                measure(name, work / f"{slug}-float32.tflite"),
            )
        )
    pick = np.random.default_rng(0).permutation(len(ds2))[:2000]
    timed = {v.name: v.path for v in precisions} | {f"int8 {n}": q.path for n, q, _ in exports}
    times = latency(timed, ds2.windows[pick], ds2.rr[pick])
    for v in precisions:
        v.latency_us = times[v.name]
    for name, q, _ in exports:
        q.latency_us = times[f"int8 {name}"]
    int8 = next(r for r in shipped if r.mode == "int8")
    sample = np.random.default_rng(0).permutation(len(ds2))[:BEATS]
    layers = per_layer_report(model_path, int8.path, ds1, ds2.windows[sample], ds2.rr[sample])
    return render(
        model_path, command, ds2, precisions, exports, int8, layers, keras_model, versions()
    )


def render(model_path, command, ds2, precisions, exports, int8, layers, keras_model, vers):
    """The Markdown document."""
    import json

    float_bytes = next(v for v in precisions if v.name == "float32").bytes
    q = next(v for v in precisions if v.name == "int8")
    manifest = json.loads(int8.manifest.read_text())
    tflm = manifest["tflm"]
    cal = manifest["calibration"]
    params = keras_model.model.count_params()
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Quantization: what each precision costs",
        "",
        "<!-- Generated by convert/quantization_report.py; edit the script, not this file. -->",
        "",
        f"Generated {now} on {_host()}; Python {platform.python_version()}, "
        + ", ".join(f"{k} {v}" for k, v in vers.items())
        + ".",
        "",
        "Regenerate (e.g. for the shipped model) with:",
        "",
        "```",
        command,
        "```",
        "",
        f"Model `{model_path}` ({keras_model.model.name}, {params} parameters, sha256 "
        f"`{sha256_bytes(Path(model_path).read_bytes())[:16]}…`). Every file below is compared "
        f"with this Keras model on all {len(ds2)} DS2 beats (unseen patients): agreement is the "
        "share of beats given the same class; Δ are candidate minus Keras. int8 is calibrated "
        f"on {cal['beats']} DS1 beats stratified by class ({cal['per_class']}). Latency is "
        "LiteRT `invoke` only, 1 thread, default delegate (XNNPACK), median (90th percentile) "
        "over 5 interleaved rounds of 2000 DS2 beats per file.",
        "",
        "## Precisions",
        "",
        *_precision_table(precisions, float_bytes),
        "",
        "Targets for the int8 file:",
        "",
        *_targets(q, float_bytes),
        "",
        "## TFLite Micro (`--c-array`)",
        "",
        f"- arena: {tflm['arena_bytes']} bytes is the smallest that allocated and ran the model "
        f"(bisection); the recording allocator reports {tflm['arena_recorded_bytes']} bytes in "
        "use after allocation (the rest is the planner's scratch during allocation).",
    ]
    for label, key in (
        ("LiteRT (XNNPACK)", "vs_litert"),
        ("LiteRT builtin kernels", "vs_litert_builtin_kernels"),
    ):
        d = tflm[key]
        lines.append(
            f"- TFLite Micro vs {label} on {tflm['beats']} DS1 beats: identical int8 outputs "
            f"{_pct(d['identical_outputs'], 1)} %, largest difference {d['max_abs_diff_int8']} "
            f"steps of 1/256, same class {_pct(d['argmax_agreement'])} %."
        )
    lines += [
        "",
        "Kernel libraries round differently (fixed-point sigmoid/tanh, requantization); the "
        "recurrence carries a last-bit difference through 8 steps, so outputs are seldom "
        "bit-identical even though each library is a correct int8 implementation.",
        "",
        "## Export paths tried",
        "",
        "Same weights, calibration and DS2 comparison; only how the graph is built and stored "
        "differs. *Compacted* = names stripped; empty buffers, identical quantization "
        "tables, vectors, tensor tables and op options shared; no redundant `has_rank`; the "
        "converter's provenance metadata dropped (`convert.packing.compact`); *non-int8 ops* "
        "are ops left in float by "
        "the converter (the shipped path refuses those). Rows without *shipped ranges* use "
        "the TFLite converter's own ranges (min/max over the calibration beats); *shipped "
        "ranges* are those of `edge-ecg convert --int8`: the 99th percentile of per-beat "
        "extremes, the input window's over the channels the model reads, and each LSTM step's "
        "own ranges (shipped) or one range per recurrent quantity over all steps (the cell "
        "state c and f·c: per step).",
        "",
        *_export_table(exports),
        "",
        f"## Where the int8 drift comes from ({layers['beats']} DS2 beats)",
        "",
        "From `edge-ecg validate --per-layer`: *local* is the error the op itself adds, in "
        "quantization steps (0.29 = rounding only); *accumulated* is the tensor's distance "
        "from float after everything upstream.",
        "",
        "| tensor | op | local (steps) | accumulated RMSE | cosine |",
        "|---|---|---:|---:|---:|",
    ]
    for r in layers["tensors"][:10]:
        local = "–" if r["local_rmse_steps"] is None else f"{r['local_rmse_steps']:.2f}"
        lines.append(
            f"| `{r['tensor'][:50]}` | {r['op']} | {local} | {r['rmse']:.4f} | {r['cosine']:.5f} |"
        )
    lines += [""]
    return "\n".join(lines)


@click.command()
@click.option("--model", "model_path", required=True, type=click.Path(dir_okay=False))
@data_dir_option
@click.option("--out", default="docs/quantization.md", show_default=True, type=click.Path())
@click.option("--calib-size", default=500, show_default=True, type=click.IntRange(10))
@click.option(
    "--work-dir",
    type=click.Path(file_okay=False),
    help="Keep the converted files here (default: a temporary directory).",
)
def main(model_path, data_dir, out, calib_size, work_dir) -> None:
    """Measure every precision and export path of MODEL and write the Markdown report."""
    args = ["python", "-m", "convert.quantization_report", "--model", model_path]
    args += ["--data-dir", data_dir] if data_dir else []
    args += ["--out", out] + (["--calib-size", str(calib_size)] if calib_size != 500 else [])
    command = shlex.join(args)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(work_dir or tmp)
        work.mkdir(parents=True, exist_ok=True)
        try:
            text = build_report(Path(model_path), data_dir, work, calib_size, command)
        except EdgeEcgError as e:
            raise click.ClickException(str(e)) from None
    write_text(out, text)
    click.echo(f"wrote {out}", err=True)


if __name__ == "__main__":
    main()
