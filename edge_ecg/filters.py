"""FIR filters designed with numpy alone and run block by block.

The device must not import ``scipy.signal`` (0.65 s and 80 MB at start-up), so the kernels are
windowed sincs and boxcars built here. Every filter is linear phase with an integer delay, and
``StreamFIR`` gives bit-identical output whatever the block sizes: each output sample is the same
dot product over the same history.
"""

from __future__ import annotations

import numpy as np


def lowpass_kernel(fs: float, cutoff: float = 40.0, transition: float = 12.0) -> np.ndarray:
    """Hamming-windowed sinc low-pass with unit DC gain and an odd number of taps."""
    cutoff = min(cutoff, 0.45 * fs)
    taps = int(np.ceil(3.3 * fs / transition)) | 1
    n = np.arange(taps) - (taps - 1) / 2
    kernel = np.sinc(2 * cutoff / fs * n) * np.hamming(taps)
    return kernel / kernel.sum()


def boxcar_kernel(fs: float, seconds: float) -> np.ndarray:
    """Moving average over ``seconds`` (odd length, so its delay is a whole sample)."""
    taps = max(1, round(seconds * fs)) | 1
    return np.full(taps, 1.0 / taps)


def baseline_kernel(fs: float) -> np.ndarray:
    """High-pass that removes baseline wander: the signal minus a 200 ms then 600 ms average.

    The two cascaded averages are the linear cousin of de Chazal's 200/600 ms median filters:
    the baseline estimate ignores the QRS (200 ms) and then the T wave (600 ms).
    """
    smooth = np.convolve(boxcar_kernel(fs, 0.2), boxcar_kernel(fs, 0.6))
    kernel = -smooth
    kernel[(len(kernel) - 1) // 2] += 1.0
    return kernel


class StreamFIR:
    """A causal FIR filter fed in blocks; ``delay`` is its group delay in samples.

    The history starts filled with the first sample, so a signal with an offset does not
    ring at the start.
    """

    def __init__(self, kernel: np.ndarray) -> None:
        self.kernel = np.asarray(kernel, dtype=np.float64)
        self.delay = (len(self.kernel) - 1) // 2
        self._history: np.ndarray | None = None

    def push(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.size == 0:
            return x
        if self._history is None:
            self._history = np.full(len(self.kernel) - 1, x[0])
        joined = np.concatenate([self._history, x])
        self._history = joined[len(joined) - (len(self.kernel) - 1) :]
        # np.convolve flips the kernel; our kernels are symmetric so that is harmless.
        return np.convolve(joined, self.kernel, mode="valid")
