"""What is inside a ``.tflite`` file: size, ops, tensors, quantization, parameters, MACs.

Runs on the device's interpreter (LiteRT), never TensorFlow, so a file can be inspected where
it runs. The interpreter is created without its default delegate (XNNPACK), which would
otherwise replace the ops we want to list by one DELEGATE node.

Parameters are the elements of constant tensors that hold weights (float, float16, int8 and
int16 constants, and the int32 biases of conv/fully-connected ops); int32 shapes and axes and
bool masks are not parameters. MACs are the multiply-accumulates of the conv, fully-connected
and batch-matmul ops for one beat, from their tensor shapes; element-wise ops are not counted.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from edge_ecg.errors import EdgeEcgError, ModelError, first_line
from edge_ecg.interpreter import interpreter_class
from edge_ecg.manifest import read_manifest, sha256_bytes

#: Ops whose input 2 is a bias (int32 in integer files): a parameter, not a shape.
BIASED_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV")
WEIGHT_DTYPES = ("float32", "float16", "int8", "int16", "uint8")


def _interpreter(data: bytes, path: Path):
    """An interpreter over ``data`` with ops as in the file (no delegate rewriting them)."""
    _, cls = interpreter_class()
    resolver = getattr(sys.modules[cls.__module__], "OpResolverType", None)
    kwargs = {"experimental_op_resolver_type": resolver.BUILTIN_WITHOUT_DEFAULT_DELEGATES}
    try:
        interp = cls(model_content=data, **(kwargs if resolver else {}))
        interp.allocate_tensors()
    except (ValueError, RuntimeError) as e:
        first = first_line(e)
        raise ModelError(f"{path}: the interpreter cannot load it ({first})") from None
    return interp


def _port(detail: dict) -> dict:
    scale, zero_point = detail["quantization"]
    return {
        "name": detail["name"],
        "shape": [int(v) for v in detail["shape"]],
        "dtype": np.dtype(detail["dtype"]).name,
        "scale": float(scale),
        "zero_point": int(zero_point),
    }


def _macs(op: str, inputs: list[dict], outputs: list[dict]) -> int:
    """Multiply-accumulates of one op for one invoke, from its tensor shapes."""
    out = int(np.prod(outputs[0]["shape"])) if outputs else 0
    if op == "CONV_2D":
        _, kh, kw, cin = inputs[1]["shape"]
        return out * int(kh * kw * cin)
    if op == "DEPTHWISE_CONV_2D":
        _, kh, kw, _ = inputs[1]["shape"]
        return out * int(kh * kw)
    if op == "FULLY_CONNECTED":
        return out * int(inputs[1]["shape"][-1])
    if op == "BATCH_MATMUL":
        a, result = inputs[0]["shape"], outputs[0]["shape"]
        k = a[-1] if a[-2] == result[-2] else a[-2]  # the contracted dimension of A
        return out * int(k)
    return 0


def inspect_tflite(path: str | os.PathLike[str]) -> dict:
    """Everything ``edge-ecg inspect`` reports about one file, as JSON-ready data."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ModelError(f"{path}: cannot read the model ({e.strerror})") from None
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise ModelError(f"{path}: not a TFLite model (no TFL3 identifier)")
    interp = _interpreter(data, path)
    tensors = {t["index"]: t for t in interp.get_tensor_details()}
    ops = interp._get_ops_details()  # the one public-enough way to list ops without TF
    graph_inputs = {d["index"] for d in interp.get_input_details()}
    produced = {i for op in ops for i in op["outputs"]}
    consumed = {i for op in ops for i in op["inputs"] if i >= 0}
    constants = consumed - produced - graph_inputs

    counts: Counter[str] = Counter()
    macs: Counter[str] = Counter()
    weights: set[int] = set()
    for op in ops:
        name = op["op_name"]
        counts[name] += 1
        ins = [tensors[i] for i in op["inputs"] if i >= 0]
        outs = [tensors[i] for i in op["outputs"]]
        macs[name] += _macs(name, ins, outs)
        for position, i in enumerate(op["inputs"]):
            if i not in constants:
                continue
            dtype = np.dtype(tensors[i]["dtype"]).name
            if dtype in WEIGHT_DTYPES or (position == 2 and name in BIASED_OPS):
                weights.add(i)
    parameters = sum(int(np.prod(tensors[i]["shape"])) for i in weights)
    parameter_bytes = sum(
        int(np.prod(tensors[i]["shape"])) * np.dtype(tensors[i]["dtype"]).itemsize for i in weights
    )
    by_dtype = Counter(np.dtype(t["dtype"]).name for t in tensors.values())
    return {
        "file": str(path),
        "bytes": len(data),
        "sha256": sha256_bytes(data),
        "manifest": _manifest_status(path, data),
        "ops": dict(sorted(counts.items())),
        "op_count": len(ops),
        "tensors": {
            "count": len(tensors),
            "constant": len(constants),
            "by_dtype": dict(sorted(by_dtype.items())),
        },
        "inputs": [_port(d) for d in interp.get_input_details()],
        "outputs": [_port(d) for d in interp.get_output_details()],
        "parameters": parameters,
        "parameter_bytes": parameter_bytes,
        "macs": sum(macs.values()),
        "macs_by_op": {k: v for k, v in sorted(macs.items()) if v},
    }


def _manifest_status(path: Path, data: bytes) -> dict:
    """Whether the manifest beside the file verifies, and the precision it records."""
    try:
        manifest = read_manifest(path, data)
    except EdgeEcgError as e:
        return {"verified": False, "problem": str(e)}
    return {"verified": True, "precision": manifest.get("precision")}


def describe(report: dict) -> str:
    """A short human summary of an inspect report."""
    lines = [
        f"{report['file']}: {report['bytes'] / 1024:.1f} KB, {report['op_count']} ops, "
        f"{report['tensors']['count']} tensors, {report['parameters']} parameters "
        f"({report['parameter_bytes'] / 1024:.1f} KB), {report['macs'] / 1e3:.1f} k MACs/beat",
        "ops: " + ", ".join(f"{k} {v}" for k, v in report["ops"].items()),
    ]
    for kind in ("inputs", "outputs"):
        for p in report[kind]:
            quant = f", scale {p['scale']:.6g}, zero point {p['zero_point']}" if p["scale"] else ""
            lines.append(f"{kind[:-1]} {p['name'] or '?'} {p['shape']} {p['dtype']}{quant}")
    m = report["manifest"]
    lines.append(
        f"manifest: verified, precision {m['precision']}"
        if m["verified"]
        else f"manifest: NOT verified ({m['problem']})"
    )
    return "\n".join(lines)
