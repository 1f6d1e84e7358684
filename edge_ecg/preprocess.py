"""Raw ECG at any sampling rate -> the cleaned signal at ``spec.FS`` that detector and model see.

Three linear steps, each block-invariant: a 40 Hz low-pass at the input rate (noise and
anti-aliasing), linear resampling to ``FS``, and a baseline high-pass. Their delays are fixed,
and ``Cleaner.to_clean_index`` / ``to_input_index`` translate positions between the two signals.
"""

from __future__ import annotations

import numpy as np

from .errors import InputError
from .filters import StreamFIR, baseline_kernel, lowpass_kernel
from .resample import StreamResampler
from .spec import FS, MAX_FS, MIN_FS


def check_fs(fs: float | None, where: str = "--fs") -> float:
    """Validate a sampling rate; raise ``InputError`` naming ``where`` when unusable."""
    if fs is None:
        raise InputError(f"{where}: the sampling rate is missing; give it in Hz (e.g. --fs 360)")
    try:
        fs = float(fs)
    except (TypeError, ValueError):
        raise InputError(f"{where}: sampling rate {fs!r} is not a number") from None
    if not np.isfinite(fs):
        raise InputError(f"{where}: sampling rate {fs:g} is not a finite number of Hz")
    if fs > MAX_FS:
        raise InputError(
            f"{where}: sampling rate {fs:g} Hz is above {MAX_FS:g} Hz; no ECG is sampled that "
            "fast, check the value (Hz, not mHz)"
        )
    if fs < MIN_FS:
        raise InputError(
            f"{where}: sampling rate {fs:g} Hz is below {MIN_FS:g} Hz; the QRS complex is not "
            "resolved, record at 100 Hz or more"
        )
    return fs


#: Largest |sample| accepted: far above any ECG in any unit, far below where the detector's
#: squared slope overflows float64 (about 1e154), which would silently find no beats.
MAX_ABS_SAMPLE = 1e30


def check_signal(x: np.ndarray, name: str = "signal") -> np.ndarray:
    """Return ``x`` as a finite 1-D float64 array, or raise ``InputError`` naming ``name``."""
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{name}: samples are not numbers") from None
    if arr.ndim != 1:
        raise InputError(f"{name}: expected one lead (a 1-D signal), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        bad = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise InputError(f"{name}: sample {bad} is {arr[bad]} (NaN or infinite)")
    if arr.size and np.abs(arr).max() > MAX_ABS_SAMPLE:
        bad = int(np.argmax(np.abs(arr)))
        raise InputError(
            f"{name}: sample {bad} is {arr[bad]:.3g}, beyond any ECG unit (mV, µV or ADC counts);"
            " check the file's format and gain"
        )
    return arr


class Cleaner:
    """Streaming version of :func:`clean`; ``push`` returns the cleaned samples now final."""

    def __init__(self, fs: float) -> None:
        self.fs = check_fs(fs)
        self._lowpass = StreamFIR(lowpass_kernel(self.fs))
        self._resample = StreamResampler(self.fs, FS)
        self._baseline = StreamFIR(baseline_kernel(FS))
        self.n_in = 0
        self.n_out = 0

    def push(self, x: np.ndarray) -> np.ndarray:
        x = check_signal(x)
        self.n_in += x.size
        y = self._baseline.push(self._resample.push(self._lowpass.push(x)))
        self.n_out += y.size
        return y

    @property
    def delay_seconds(self) -> float:
        """How far the cleaned signal lags the input."""
        return self._lowpass.delay / self.fs + self._baseline.delay / FS

    def to_clean_index(self, input_index: np.ndarray | float) -> np.ndarray:
        """Position in the cleaned signal (``FS``) of an input sample index."""
        return (np.asarray(input_index, dtype=np.float64) + self._lowpass.delay) * (
            FS / self.fs
        ) + self._baseline.delay

    def to_input_index(self, clean_index: np.ndarray | float) -> np.ndarray:
        """Input sample index of a position in the cleaned signal."""
        return (np.asarray(clean_index, dtype=np.float64) - self._baseline.delay) * (
            self.fs / FS
        ) - self._lowpass.delay


def clean(signal: np.ndarray, fs: float) -> np.ndarray:
    """Clean a whole signal: low-pass, resample to ``spec.FS``, remove baseline wander.

    Parameters
    ----------
    signal : 1-D array of one lead, in any unit (mV from WFDB).
    fs : its sampling rate in Hz (>= 100).

    Returns
    -------
    The cleaned signal at ``spec.FS``, delayed by ``Cleaner(fs).delay_seconds``.
    """
    return Cleaner(fs).push(signal)
