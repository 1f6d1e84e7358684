"""A small deterministic synthetic ECG, for tests that must run without the PhysioNet data.

Beats are sums of Gaussian P, Q, R, S and T waves. Optional premature supraventricular (S)
beats keep a normal QRS; ventricular (V) beats are wide, have no P wave and are followed by a
compensatory pause. Baseline wander and white noise are optional. Same seed, same signal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .aami import CLASS_INDEX

# (amplitude mV, centre s relative to R, width s) of the P, Q, R, S, T waves.
_NORMAL = ((0.15, -0.20, 0.025), (-0.10, -0.03, 0.010), (1.00, 0.0, 0.012),
           (-0.25, 0.03, 0.010), (0.30, 0.25, 0.050))  # fmt: skip
_VENTRICULAR = ((-0.20, -0.04, 0.020), (1.40, 0.0, 0.035), (-0.60, 0.07, 0.030),
                (-0.45, 0.30, 0.070))  # fmt: skip
_SUPRAVENTRICULAR = ((-0.10, -0.16, 0.020), *_NORMAL[1:])


@dataclass(frozen=True)
class SyntheticECG:
    """A synthetic one-lead ECG with its true R-peaks and AAMI labels."""

    signal: np.ndarray  # (n,) float64, mV
    fs: float
    peaks: np.ndarray  # (k,) int64 sample index of each R-peak
    labels: np.ndarray  # (k,) int64 AAMI class index


def synthetic_ecg(
    seconds: float = 60.0,
    fs: float = 360.0,
    heart_rate: float = 72.0,
    seed: int = 0,
    ectopic: float = 0.0,
    noise: float = 0.0,
    wander: float = 0.0,
) -> SyntheticECG:
    """Generate a synthetic ECG.

    Parameters
    ----------
    seconds, fs : duration and sampling rate.
    heart_rate : mean rate of the normal rhythm in beats per minute (RR jitter 3 %).
    seed : random seed; the same arguments always give the same signal.
    ectopic : probability that a beat is premature, half S and half V.
    noise, wander : standard deviation of white noise and amplitude of 0.3 Hz baseline wander (mV).
    """
    rng = np.random.default_rng(seed)
    n = round(seconds * fs)
    t = np.arange(n) / fs
    signal = wander * np.sin(2 * np.pi * 0.3 * t + rng.uniform(0, 2 * np.pi))
    rr_mean = 60.0 / heart_rate
    peaks, labels = [], []
    at = 0.5 + rng.uniform(0, rr_mean)
    pause = 0.0
    while at < seconds - 0.5:
        kind = "N"
        if ectopic and pause == 0.0 and peaks and rng.random() < ectopic:
            kind = "S" if rng.random() < 0.5 else "V"
            at -= rr_mean * (0.35 if kind == "V" else 0.3)  # premature
            pause = rr_mean * (0.35 if kind == "V" else 0.1)
        else:
            pause = 0.0
        waves = {"N": _NORMAL, "S": _SUPRAVENTRICULAR, "V": _VENTRICULAR}[kind]
        lo, hi = max(0, int((at - 0.5) * fs)), min(n, int((at + 0.7) * fs))
        seg = t[lo:hi] - at
        for amp, centre, width in waves:
            signal[lo:hi] += amp * np.exp(-0.5 * ((seg - centre) / width) ** 2)
        peaks.append(round(at * fs))
        labels.append(CLASS_INDEX[kind])
        at += rr_mean * (1 + 0.03 * rng.standard_normal()) + pause
    if noise:
        signal = signal + noise * rng.standard_normal(n)
    return SyntheticECG(
        signal=signal,
        fs=float(fs),
        peaks=np.array(peaks, dtype=np.int64),
        labels=np.array(labels, dtype=np.int64),
    )
