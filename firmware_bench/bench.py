"""Measure a beat classifier the same way on every device: latency, throughput, start, memory.

Latency follows MLPerf Tiny: the model runs on real beats for repeated windows of at least
``duration`` seconds; each window gives its percentiles and the reported figure is the median
over windows, which holds up on a shared, noisy machine. Cold start and peak RSS are measured
in fresh processes, since a warm benchmark process says nothing about either.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_ecg.beats import extract_beats, stack_beats
from edge_ecg.demo import load_excerpt
from edge_ecg.errors import InputError

WINDOWS = 5


@dataclass(frozen=True)
class BenchBeats:
    """Real beats (model inputs) and the raw signal they came from."""

    windows: np.ndarray
    rr: np.ndarray
    signal: np.ndarray
    fs: float


def excerpt_beats() -> BenchBeats:
    """Beats of the bundled MIT-BIH excerpt, cut at its reference R-peaks."""
    signal, fs, samples, _ = load_excerpt()
    beats, _ = extract_beats(signal, fs, samples)
    windows, rr = stack_beats(beats)
    return BenchBeats(windows, rr, signal, fs)


def _stats(ms: np.ndarray) -> dict[str, float]:
    return {
        "p50": float(np.percentile(ms, 50)),
        "p90": float(np.percentile(ms, 90)),
        "p99": float(np.percentile(ms, 99)),
        "mean": float(ms.mean()),
        "std": float(ms.std()),
    }


def time_invokes(predict_one, beats: BenchBeats, duration: float, max_calls: int | None = None):
    """Per-call latency (ms) over ``WINDOWS`` windows of >= ``duration`` s; median of windows."""
    per_window, calls, busy = [], 0, 0.0
    n = len(beats.windows)
    for _ in range(WINDOWS):
        times = []
        start = time.perf_counter()
        i = 0
        while time.perf_counter() - start < duration or not times:
            k = i % n
            t0 = time.perf_counter_ns()
            predict_one(beats.windows[k : k + 1], beats.rr[k : k + 1])
            times.append(time.perf_counter_ns() - t0)
            i += 1
            if max_calls and i >= max_calls:
                break
        busy += time.perf_counter() - start
        calls += len(times)
        per_window.append(_stats(np.array(times) / 1e6))
    latency = {k: float(np.median([w[k] for w in per_window])) for k in per_window[0]}
    return latency, calls / busy


def _precision(path: Path, model) -> str:
    """What the converter made, from the manifest when there is a valid one (a file from
    elsewhere is benched too, labelled by its input type)."""
    from edge_ecg.errors import EdgeEcgError
    from edge_ecg.manifest import manifest_precision, read_manifest

    try:
        manifest = read_manifest(path)
    except EdgeEcgError:
        return model.precision
    return manifest_precision(manifest, model.precision)


def bench_tflite(path: Path, threads: int, beats: BenchBeats, duration: float) -> dict:
    """Size, load, first inference, warm latency and throughput of one ``.tflite`` model."""
    from edge_ecg.interpreter import TFLiteModel

    t0 = time.perf_counter()
    model = TFLiteModel(path, threads=threads, verify=False)
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    model.predict(beats.windows[:1], beats.rr[:1])
    first_ms = (time.perf_counter() - t0) * 1e3
    latency, throughput = time_invokes(model.predict, beats, duration)
    return {
        "model": path.name,
        "backend": model.backend,
        "precision": _precision(path, model),
        "threads": threads,
        "size_bytes": model.size_bytes,
        "load_s": load_s,
        "first_inference_ms": first_ms,
        "latency_ms": latency,
        "throughput_bps": throughput,
    }


def bench_onnx(path: Path, threads: int, beats: BenchBeats, duration: float) -> dict:
    """Peer: ONNX Runtime on an ``.onnx`` export of the same float model (e.g. tf2onnx of the
    float32 ``.tflite``); one beat a call, like the TFLite runs."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise InputError(
            f"--model {path}: .onnx peers need onnxruntime (pip install onnxruntime)"
        ) from None
    t0 = time.perf_counter()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    try:
        session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as e:  # ORT raises its own types for any unreadable file
        raise InputError(f"--model {path}: ONNX Runtime cannot load it ({str(e)[:200]})") from None
    load_s = time.perf_counter() - t0
    names = {len(i.shape): i.name for i in session.get_inputs()}
    window_name, rr_name = names.get(3), names.get(2)
    if window_name is None or rr_name is None:
        raise InputError(f"--model {path}: expected a (1, 128, 2) window and a (1, 11) RR input")

    def predict(w, r):
        return session.run(None, {window_name: w.astype(np.float32), rr_name: r.astype(np.float32)})

    t0 = time.perf_counter()
    predict(beats.windows[:1], beats.rr[:1])
    first_ms = (time.perf_counter() - t0) * 1e3
    latency, throughput = time_invokes(predict, beats, duration)
    return {
        "model": path.name,
        "backend": f"onnxruntime {ort.__version__}",
        "precision": "float32",
        "threads": threads,
        "size_bytes": path.stat().st_size,
        "load_s": load_s,
        "first_inference_ms": first_ms,
        "latency_ms": latency,
        "throughput_bps": throughput,
    }


def bench_keras(path: Path, beats: BenchBeats, duration: float) -> list[dict]:
    """Peers: the float Keras model called directly and through ``predict``, one beat a call."""
    import keras

    t0 = time.perf_counter()
    model = keras.saving.load_model(path, safe_mode=True, compile=False)
    load_s = time.perf_counter() - t0
    names = [t.name for t in model.inputs]
    order = (lambda w, r: [w, r]) if "window" in names[0] else (lambda w, r: [r, w])
    ways = {
        "keras-call": lambda w, r: model(order(w, r), training=False),
        "keras-predict": lambda w, r: model.predict(order(w, r), verbose=0),
    }
    out = []
    for backend, fn in ways.items():
        t0 = time.perf_counter()
        fn(beats.windows[:1], beats.rr[:1])
        first_ms = (time.perf_counter() - t0) * 1e3
        latency, throughput = time_invokes(fn, beats, duration, max_calls=200)
        out.append(
            {
                "model": path.name,
                "backend": backend,
                "precision": "float32",
                "threads": 0,  # TensorFlow's own thread pool
                "size_bytes": path.stat().st_size,
                "load_s": load_s,
                "first_inference_ms": first_ms,
                "latency_ms": latency,
                "throughput_bps": throughput,
            }
        )
    return out


PEAK_RSS = """
def peak_rss_kb():
    # VmHWM starts afresh at exec; ru_maxrss is inherited from the parent that forked us
    # (a bench parent holding TensorFlow would show its own 600 MB).
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
"""

END_TO_END = (
    PEAK_RSS
    + """
import json, resource, sys, time
import numpy as np
from edge_ecg.classify import Classifier, classify_record
signal, fs = np.load(sys.argv[1]), float(sys.argv[2])
model = Classifier(sys.argv[3] if sys.argv[3] != "-" else None, threads=1).model
first, second = (signal, None) if signal.ndim == 1 else signal.T  # (n, 2): two leads
t0 = time.perf_counter()
beats = classify_record(first, fs, model, chunk=int(5 * fs), second=second)
seconds = time.perf_counter() - t0
rss = peak_rss_kb()
print(json.dumps({"seconds": seconds, "beats": len(beats), "rss_kb": rss}))
"""
)

COLD_START = (
    PEAK_RSS
    + """
import resource, sys, time
import numpy as np
from edge_ecg.classify import StreamClassifier
stream = StreamClassifier(float(sys.argv[2]), sys.argv[3] if sys.argv[3] != "-" else None)
signal = np.load(sys.argv[1])
step = int(float(sys.argv[2]) / 4)
for start in range(0, signal.size, step):
    if stream.push(signal[start:start + step]):
        break
print(peak_rss_kb())
"""
)


def end_to_end(
    signal_path: Path, fs: float, model: str | None, record: str, repeats: int = 5
) -> dict:
    """Detect + classify a whole record in fresh processes, fed in 5 s blocks; the median of
    ``repeats`` runs (one run on a shared machine can be 10 % off either way). An (n, 2)
    signal is run with two-lead detection (``edge_ecg.leads``)."""
    runs = []
    for _ in range(repeats):
        out = subprocess.run(
            [sys.executable, "-c", END_TO_END, str(signal_path), str(fs), model or "-"],
            check=True,
            capture_output=True,
            text=True,
        )
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    seconds = float(np.median([r["seconds"] for r in runs]))
    ecg_seconds = np.load(signal_path, mmap_mode="r").shape[0] / fs
    return {
        "record": record,
        "ecg_seconds": ecg_seconds,
        "seconds": seconds,
        "rtf": ecg_seconds / seconds,
        "runs_s": [r["seconds"] for r in runs],
        "beats": runs[0]["beats"],
        "peak_rss_mb": max(r["rss_kb"] for r in runs) / 1024,
    }


def cold_start(signal_path: Path, fs: float, model: str | None, repeats: int = 5) -> dict:
    """Process start -> imports -> model load -> first classified beat; and peak RSS."""
    times, rss = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", COLD_START, str(signal_path), str(fs), model or "-"],
            check=True,
            capture_output=True,
            text=True,
        )
        times.append(time.perf_counter() - t0)
        rss.append(int(out.stdout.strip().splitlines()[-1]) / 1024)
    return {"cold_start_s": float(np.median(times)), "peak_rss_mb": float(np.max(rss))}
