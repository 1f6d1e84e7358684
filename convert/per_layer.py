"""Where the drift comes from: every intermediate tensor, float vs quantized, ranked.

How: the shipped files have their tensor names stripped, so we rebuild two debug copies from
the reference ``.keras`` model with the settings the candidate's manifest records (same export,
same calibration beats and seed, same per-channel choice): a float32 file and a file in the
candidate's precision, both with names. Compacting the debug copy must give the candidate's
exact bytes, which proves the report is about that file (``matches_candidate``). Both copies
run on the same beats with ``experimental_preserve_all_tensors=True``; tensors are matched by
name (the converter names a tensor after the TF ops it came from, in any precision).

Two views per tensor, because drift in a recurrent net is mostly accumulated, not made:

- accumulated: RMSE and cosine of the dequantized values against float, and the RMSE in
  quantization steps (``rmse_steps`` = RMSE / scale), from the two copies above;
- local (int8 only): the error the op itself adds when fed the quantized graph's own inputs
  (``local_rmse_steps``), from TF's ``tf.lite.experimental.QuantizationDebugger`` (its
  NumericVerify mode runs each float op beside its int8 twin on the same inputs), run with
  the same converter settings and calibration beats.

Rounding alone gives ~0.29 steps (1/sqrt(12)). An op whose local error is well above that has
a range too wide for its values or an op that int8 handles badly: re-calibrate it or keep it in
float. Large accumulated but small local errors mean the drift is inherited (e.g. through the
recurrence). The list is ranked by local error when there is one, else by accumulated
``rmse_steps`` (by relative RMSE for float candidates); each entry names the op that wrote it.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import numpy as np

from edge_ecg.errors import InputError
from edge_ecg.manifest import read_manifest, sha256_bytes

from .int8 import recording_interpreter

#: Beats both debug copies run on (every tensor of every beat is kept in memory).
BEATS = 300


def tensor_values(data: bytes, windows: np.ndarray, rr: np.ndarray) -> dict[str, dict]:
    """Every op output of every beat, dequantized: name -> {values, scale, op, shape}.

    Tensors whose name is not unique in the file are left out: they cannot be matched.
    """
    interp = recording_interpreter(data)
    details = {t["index"]: t for t in interp.get_tensor_details()}
    producer = {i: op["op_name"] for op in interp._get_ops_details() for i in op["outputs"]}
    names = Counter(t["name"] for t in details.values())
    keep = [i for i in producer if names[details[i]["name"]] == 1]
    inputs = interp.get_input_details()
    values: dict[int, list[np.ndarray]] = {i: [] for i in keep}
    for b in range(len(windows)):
        for d in inputs:
            x = windows[b : b + 1] if len(d["shape"]) == 3 else rr[b : b + 1]
            interp.set_tensor(d["index"], _quantize(x, d))
        interp.invoke()
        for i in keep:
            values[i].append(_dequantize(interp.get_tensor(i), details[i]))
    return {
        details[i]["name"]: {
            "values": np.stack(values[i]),
            "scale": float(details[i]["quantization"][0]),
            "op": producer[i],
            "shape": [int(v) for v in details[i]["shape"]],
        }
        for i in keep
    }


def _quantize(x: np.ndarray, detail: dict) -> np.ndarray:
    scale, zero_point = detail["quantization"]
    dtype = np.dtype(detail["dtype"])
    if not scale or dtype.kind != "i":
        return x.astype(dtype)
    info = np.iinfo(dtype)
    return np.clip(np.round(x / scale) + zero_point, info.min, info.max).astype(dtype)


def _dequantize(q: np.ndarray, detail: dict) -> np.ndarray:
    scale, zero_point = detail["quantization"]
    if scale and q.dtype.kind == "i":
        return ((q.astype(np.float32) - zero_point) * scale).astype(np.float32)
    return np.array(q, np.float32)


def local_errors(frozen, calibration, options, windows, rr) -> dict[str, float]:
    """Tensor name -> RMSE in quantization steps that its op adds (QuantizationDebugger)."""
    import csv
    import io

    import tensorflow as tf

    from .int8 import int8_tflite
    from .tflite import beat_samples, quiet_converter, to_tflite

    debug_model = int8_tflite(
        frozen,
        calibration,
        options.per_channel,
        options.range_percentile,
        numeric_verify=True,
        step_ranges=options.step_ranges,
    )
    float_model = to_tflite(frozen, "float32")
    with quiet_converter():
        debugger = tf.lite.experimental.QuantizationDebugger(
            quant_debug_model_content=debug_model,
            float_model_content=float_model,
            debug_dataset=beat_samples(frozen, windows, rr),
        )
        debugger.run()
        text = io.StringIO()
        debugger.layer_statistics_dump(text)
    out = {}
    for row in csv.DictReader(io.StringIO(text.getvalue())):
        scale = float(row["scale"])
        if scale > 0:
            out[row["tensor_name"]] = float(np.sqrt(float(row["mean_squared_error"]))) / scale
    return out


def compare_tensors(
    floats: dict[str, dict], quantized: dict[str, dict], local: dict[str, float] | None = None
) -> list[dict]:
    """Drift of every tensor present in both, ranked worst first (module docstring)."""
    local = local or {}
    rows = []
    for name, q in quantized.items():
        f = floats.get(name)
        if f is None or f["values"].shape != q["values"].shape:
            continue
        a = f["values"].astype(np.float64).reshape(len(f["values"]), -1)
        b = q["values"].astype(np.float64).reshape(len(q["values"]), -1)
        rmse = float(np.sqrt(np.mean((a - b) ** 2)))
        norms = np.linalg.norm(a) * np.linalg.norm(b)
        std = float(np.std(a))
        rows.append(
            {
                "tensor": name,
                "op": q["op"],
                "shape": q["shape"],
                "rmse": rmse,
                "cosine": float(np.sum(a * b) / norms) if norms > 0 else None,
                "scale": q["scale"] or None,
                "rmse_steps": rmse / q["scale"] if q["scale"] else None,
                "relative_rmse": rmse / std if std > 0 else None,
                "local_rmse_steps": local.get(name),
            }
        )
    key = _rank_key(rows)
    rows.sort(key=lambda r: -(r[key] or 0.0))
    return rows


def _rank_key(rows: list[dict]) -> str:
    for key in ("local_rmse_steps", "rmse_steps"):
        if any(r[key] is not None for r in rows):
            return key
    return "relative_rmse"


def per_layer_report(
    reference: str | os.PathLike[str],
    candidate: str | os.PathLike[str],
    ds1,
    windows: np.ndarray,
    rr: np.ndarray,
) -> dict:
    """The ranked per-tensor drift of ``candidate`` (module docstring); beats from the caller."""
    import keras

    from .calibration import calibration_set
    from .converter import Options
    from .export import ExportModel
    from .int8 import int8_tflite
    from .packing import compact
    from .tflite import frozen_function, to_tflite

    reference, candidate = Path(reference), Path(candidate)
    if reference.suffix != ".keras" or candidate.suffix != ".tflite":
        raise InputError(
            "--per-layer needs a .keras reference and a .tflite candidate made from it"
        )
    manifest = read_manifest(candidate)
    mode = manifest.get("precision")
    if mode == "float32":
        raise InputError("--per-layer: the candidate is float32; there is nothing to compare")
    calib = manifest.get("calibration") or {}
    options = Options(
        calib_size=int(calib.get("size", Options.calib_size)),
        seed=int(calib.get("seed", Options.seed)),
        per_channel=bool(manifest.get("per_channel", False)),
        lstm=manifest.get("export", {}).get("lstm", "joined"),
        range_percentile=calib.get("range_percentile"),
        # files made before shared ranges existed have per-step ones
        step_ranges=calib.get("step_ranges", "per-step"),
    )
    model = keras.saving.load_model(reference, safe_mode=True, compile=False)
    frozen = frozen_function(ExportModel(model, lstm=options.lstm))
    calibration = (
        calibration_set(ds1.windows, ds1.rr, ds1.labels, options.calib_size, options.seed)
        if mode == "int8"
        else None
    )
    float_copy = to_tflite(frozen, "float32", per_channel=options.per_channel)
    debug_copy = (
        int8_tflite(
            frozen,
            calibration,
            options.per_channel,
            options.range_percentile,
            float_io=manifest.get("io") == "float32",
            step_ranges=options.step_ranges,
        )
        if mode == "int8"
        else to_tflite(frozen, mode, per_channel=options.per_channel)
    )
    shipped = compact(debug_copy) if manifest.get("compacted", True) else debug_copy
    local = local_errors(frozen, calibration, options, windows, rr) if mode == "int8" else None
    rows = compare_tensors(
        tensor_values(float_copy, windows, rr), tensor_values(debug_copy, windows, rr), local
    )
    return {
        "beats": len(windows),
        "precision": mode,
        "matches_candidate": sha256_bytes(shipped) == manifest.get("sha256"),
        "ranked_by": _rank_key(rows) if rows else None,
        "tensors": rows,
    }


def _fmt(value: float | None, spec: str) -> str:
    return "–" if value is None else format(value, spec)


def markdown(report: dict, top: int = 15) -> str:
    """The worst ``top`` tensors as a Markdown table."""
    lines = [
        f"## Per-layer drift ({report['precision']} vs float32, {report['beats']} beats, "
        f"ranked by {report['ranked_by']})",
        "",
    ]
    if not report["matches_candidate"]:
        lines += [
            "**Warning:** the rebuilt debug copy is not byte-identical to the candidate "
            "(different converter version or data?); the ranking is indicative only.",
            "",
        ]
    lines += [
        "| # | tensor | op | local error (steps) | accumulated RMSE | cosine | RMSE / scale |",
        "|---:|---|---|---:|---:|---:|---:|",
    ]
    for i, r in enumerate(report["tensors"][:top], start=1):
        cells = [
            _fmt(r["local_rmse_steps"], ".2f"),
            _fmt(r["rmse"], ".4g"),
            _fmt(r["cosine"], ".5f"),
            _fmt(r["rmse_steps"], ".2f"),
        ]
        lines.append(f"| {i} | `{r['tensor'][:60]}` | {r['op']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
