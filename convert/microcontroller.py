"""The int8 model for microcontrollers: a C array of its bytes, its TFLite Micro arena size,
and proof that TFLite Micro computes what LiteRT computes.

Firmware links the model as a constant array (no file system), aligned to 16 bytes because
TFLite Micro reads the flatbuffer in place and some targets fault on unaligned loads.

The arena (TFLM's one block of working memory) is measured, not guessed: TFLM's recording
allocator reports what it used (``arena_recorded_bytes``), and bisection finds the smallest
arena in which the interpreter allocates and runs the model (``arena_bytes``, larger: it also
holds the planner's scratch space during allocation). TFLM's kernels are reference code,
different from LiteRT's optimised ones, so both run the same real beats and any int8 output
that differs is reported.

TFLite Micro always runs in a child process (``python -m convert.microcontroller``): its
Python wrapper can crash the process outright (SIGSEGV) for some too-small arenas, and it
shares native symbols with TensorFlow's and LiteRT's TFLite copies.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from edge_ecg.atomic import write_text
from edge_ecg.errors import ModelError
from edge_ecg.manifest import sha256_bytes

#: The C array's alignment in bytes (TFLM reads tensors in place).
ALIGNMENT = 16
#: Arena bisection stops within this many bytes (TFLM aligns allocations to 16).
ARENA_STEP = 16
#: Largest arena tried; a beat model needing more does not belong on a microcontroller.
MAX_ARENA = 1 << 22
#: Seconds a child may take (the comparison runs ~1000 beats on reference kernels).
CHILD_TIMEOUT = 600


# --------------------------------------------------------------------------- child process


def _child_main(argv: list[str]) -> int:
    """``MODEL ARENA [--record | INPUTS.npz OUTPUTS.npy]``: exit 0 if TFLM ran the model.

    With ``--record`` the recording allocator prints its usage to stderr; with an inputs
    file (int8 arrays ``in0``, ``in1``... in the file's input order, one row per beat) the
    int8 outputs of every beat are saved.
    """
    import tflite_micro

    data = Path(argv[0]).read_bytes()
    try:
        interp = tflite_micro.runtime.Interpreter.from_bytes(data, arena_size=int(argv[1]))
        if len(argv) == 4:
            with np.load(argv[2]) as z:
                inputs = [z[f"in{i}"] for i in range(len(z.files))]
            out = []
            for b in range(len(inputs[0])):
                for i, x in enumerate(inputs):
                    interp.set_input(x[b : b + 1], i)
                interp.invoke()
                out.append(np.array(interp.get_output(0)[0]))
            np.save(argv[3], np.stack(out))
            return 0
        for i in range(2):  # a beat model has two inputs (window, rr), checked upstream
            detail = interp.get_input_details(i)
            interp.set_input(np.zeros(tuple(detail["shape"]), detail["dtype"]), i)
        interp.invoke()
        if "--record" in argv:
            interp.print_allocations()
    except RuntimeError:
        return 1
    return 0


def _child(args: list[str]) -> subprocess.CompletedProcess:
    repo = str(Path(__file__).resolve().parents[1])
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [repo, os.environ.get("PYTHONPATH")])),
    }
    try:
        return subprocess.run(
            [sys.executable, "-m", "convert.microcontroller", *args],
            capture_output=True,
            text=True,
            timeout=CHILD_TIMEOUT,
            env=env,
        )
    except subprocess.TimeoutExpired:
        raise ModelError(f"TFLite Micro did not finish within {CHILD_TIMEOUT} s") from None


def _runs(model: Path, arena: int) -> bool:
    return _child([str(model), str(arena)]).returncode == 0


# --------------------------------------------------------------------------- measurements


def arena_sizes(model: Path) -> tuple[int, int]:
    """(smallest arena that runs the model, bytes the recording allocator reports used)."""
    record = _child([str(model), str(MAX_ARENA), "--record"])
    if record.returncode != 0:
        raise ModelError(
            f"{model.name}: TFLite Micro cannot run it in {MAX_ARENA} bytes of arena "
            f"({(record.stderr.strip().splitlines() or ['no message'])[-1][:200]})"
        )
    found = re.search(r"Arena allocation total (\d+) bytes", record.stderr)
    recorded = int(found.group(1)) if found else 0
    lo, hi = recorded, MAX_ARENA
    if _runs(model, recorded):
        return recorded, recorded
    if _runs(model, 2 * recorded):
        hi = 2 * recorded
    while hi - lo > ARENA_STEP:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if _runs(model, mid) else (mid, hi)
    return hi, recorded


def _quantize(x: np.ndarray, q: dict) -> np.ndarray:
    """The runtime's formula (edge_ecg.interpreter.Port.quantize)."""
    info = np.iinfo(q["dtype"])
    scaled = np.round(np.asarray(x, np.float32) / np.float32(q["scale"])) + q["zero_point"]
    return np.clip(scaled, info.min, info.max).astype(q["dtype"])


def tflm_int8_outputs(
    model: Path, arena: int, quantization: dict, windows: np.ndarray, rr: np.ndarray
) -> np.ndarray:
    """Raw int8 outputs of TFLite Micro, one invoke per beat.

    ``quantization`` is ``graph.port_quantization(data)``: its keys list the inputs in the
    file's order (window and rr, in either order), then ``probs``.
    """
    beats = {"window": windows, "rr": rr}
    names = [n for n in quantization if n != "probs"]
    with tempfile.TemporaryDirectory() as tmp:
        inputs, outputs = Path(tmp) / "in.npz", Path(tmp) / "out.npy"
        np.savez(
            inputs, **{f"in{i}": _quantize(beats[n], quantization[n]) for i, n in enumerate(names)}
        )
        done = _child([str(model), str(arena), str(inputs), str(outputs)])
        if done.returncode != 0:
            raise ModelError(
                f"{model.name}: TFLite Micro failed on real beats: {done.stderr[-300:]}"
            )
        return np.load(outputs)


def litert_int8_outputs(
    data: bytes, quantization: dict, windows: np.ndarray, rr: np.ndarray, delegate: bool
) -> np.ndarray:
    """LiteRT's raw int8 outputs, with its default delegate (XNNPACK) or builtin kernels only."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    resolver = OpResolverType.AUTO if delegate else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    interp = Interpreter(model_content=data, num_threads=1, experimental_op_resolver_type=resolver)
    interp.allocate_tensors()
    beats = {"window": windows, "rr": rr}
    names = [n for n in quantization if n != "probs"]
    inputs = [
        (d["index"], _quantize(beats[n], quantization[n]))
        for d, n in zip(interp.get_input_details(), names, strict=True)
    ]
    out_index = interp.get_output_details()[0]["index"]
    result = np.empty((len(windows), 5), np.int8)
    for b in range(len(windows)):
        for index, q in inputs:
            interp.set_tensor(index, q[b : b + 1])
        interp.invoke()
        result[b] = interp.get_tensor(out_index)[0]
    return result


def _difference(a: np.ndarray, b: np.ndarray) -> dict:
    diff = np.abs(a.astype(np.int16) - b.astype(np.int16))
    return {
        "identical_outputs": float(np.mean(np.all(diff == 0, axis=1))),
        "max_abs_diff_int8": int(diff.max()) if diff.size else 0,
        "argmax_agreement": float(np.mean(a.argmax(1) == b.argmax(1))),
    }


def compare_tflm(path: Path, windows: np.ndarray, rr: np.ndarray, arena: int) -> dict:
    """How TFLite Micro's int8 outputs differ from LiteRT's on the same beats.

    Against LiteRT as the runtime runs it (XNNPACK delegate) and against LiteRT's builtin
    kernels: the int8 LSTM amplifies the last-bit differences between kernel libraries
    (fixed-point sigmoid/tanh, rounding), so outputs differ even though each is a correct
    int8 implementation; what matters for the device is the argmax agreement.
    """
    from .graph import port_quantization

    data = path.read_bytes()
    quantization = port_quantization(data)
    micro = tflm_int8_outputs(path, arena, quantization, windows, rr)
    return {
        "beats": len(windows),
        "vs_litert": _difference(
            micro, litert_int8_outputs(data, quantization, windows, rr, delegate=True)
        ),
        "vs_litert_builtin_kernels": _difference(
            micro, litert_int8_outputs(data, quantization, windows, rr, delegate=False)
        ),
    }


# --------------------------------------------------------------------------- C files


def c_identifier(stem: str) -> str:
    """``fusion-int8`` -> ``fusion_int8``, a valid C identifier."""
    name = re.sub(r"\W", "_", stem)
    return name if re.match(r"[A-Za-z_]", name) else f"m_{name}"


def c_source(data: bytes, ident: str, header: str) -> str:
    """The model bytes as an aligned C array, 12 bytes a line."""
    lines = [
        f"// Generated by edge-ecg convert from {ident} (sha256 {sha256_bytes(data)}).",
        "// Do not edit: re-run the convert command in the model's manifest.",
        f'#include "{header}"',
        "",
        f"alignas({ALIGNMENT}) const unsigned char g_{ident}_model[] = {{",
    ]
    for i in range(0, len(data), 12):
        lines.append("  " + ", ".join(f"0x{b:02x}" for b in data[i : i + 12]) + ",")
    lines += ["};", f"const unsigned int g_{ident}_model_len = {len(data)};", ""]
    return "\n".join(lines)


def c_header(data: bytes, ident: str, arena: int, recorded: int, quantization: dict) -> str:
    """Declarations, the measured arena size and the input/output quantization."""
    guard = f"{ident.upper()}_MODEL_H_"
    macro = ident.upper()
    lines = [
        f"// Generated by edge-ecg convert (sha256 {sha256_bytes(data)}). Do not edit.",
        f"#ifndef {guard}",
        f"#define {guard}",
        "",
        "// Smallest TFLite Micro arena that allocated and ran the model, measured on the",
        "// host (64-bit pointers; 32-bit targets need the same or less). The recording",
        f"// allocator reported {recorded} bytes in use after allocation.",
        f"#define {macro}_ARENA_BYTES {arena}",
        "",
        "// Inputs are quantized as q = round(x / SCALE) + ZERO_POINT, clamped to int8;",
        "// the output as x = (q - ZERO_POINT) * SCALE.",
    ]
    for port, q in quantization.items():
        lines += [
            f"#define {macro}_{port.upper()}_SCALE {q['scale']!r}f",
            f"#define {macro}_{port.upper()}_ZERO_POINT {q['zero_point']}",
        ]
    lines += [
        "",
        f"extern const unsigned char g_{ident}_model[];",
        f"extern const unsigned int g_{ident}_model_len;",
        "",
        f"#endif  // {guard}",
        "",
    ]
    return "\n".join(lines)


def export_c_array(
    path: Path,
    windows: np.ndarray,
    rr: np.ndarray,
    log: Callable[[str], None] = lambda msg: None,
) -> dict:
    """Write ``<stem>.h``/``<stem>.cc`` beside the int8 model; check TFLM against LiteRT."""
    from .graph import port_quantization

    data = path.read_bytes()
    arena, recorded = arena_sizes(path)
    tflm = {
        "arena_bytes": arena,
        "arena_recorded_bytes": recorded,
        **compare_tflm(path, windows, rr, arena),
    }
    ident = c_identifier(path.stem)
    header, source = path.with_suffix(".h"), path.with_suffix(".cc")
    write_text(header, c_header(data, ident, arena, recorded, port_quantization(data)))
    write_text(source, c_source(data, ident, header.name))
    for name, key in (
        ("LiteRT", "vs_litert"),
        ("LiteRT builtin kernels", "vs_litert_builtin_kernels"),
    ):
        d = tflm[key]
        log(
            f"TFLite Micro vs {name} on {tflm['beats']} DS1 beats: identical int8 outputs "
            f"{100 * d['identical_outputs']:.1f} %, max diff {d['max_abs_diff_int8']} steps, "
            f"argmax agreement {100 * d['argmax_agreement']:.2f} %"
        )
    log(f"{header.name}, {source.name}: TFLM arena {arena} bytes ({recorded} recorded in use)")
    return {"tflm": tflm, "files": {"header": header.name, "source": source.name}}


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1:]))
