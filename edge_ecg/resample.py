"""Rational-rate resampling by linear interpolation, block by block.

Called after a low-pass far below both Nyquist rates (40 Hz), linear interpolation is accurate
and, unlike polyphase filters from ``scipy.signal``, costs nothing at import. Output sample ``m``
sits at input position ``m * fs_in / fs_out`` computed with integers, so the output is the same
whatever the block sizes.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np


class StreamResampler:
    """Resample a stream from ``fs_in`` to ``fs_out`` (any rates, given as numbers)."""

    def __init__(self, fs_in: float, fs_out: float) -> None:
        ratio = Fraction(fs_in).limit_denominator(10_000) / Fraction(fs_out).limit_denominator(
            10_000
        )
        self._p, self._q = ratio.numerator, ratio.denominator  # input step per output: p/q
        self.identity = self._p == self._q
        self._n_in = 0  # input samples seen
        self._m_out = 0  # output samples produced
        self._last = 0.0  # last input sample of the previous block

    def push(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if self.identity or x.size == 0:
            self._n_in += x.size
            return x
        start = self._n_in - 1  # input index of self._last
        self._n_in += x.size
        # Output m needs inputs floor(m p / q) and the one after it.
        # Output m is ready once floor(m p / q) + 1 <= n_in - 1, i.e. m p < (n_in - 1) q.
        m_end = max(0, ((self._n_in - 1) * self._q + self._p - 1) // self._p)
        m = np.arange(self._m_out, m_end, dtype=np.int64)
        self._m_out = max(self._m_out, m_end)
        block = np.concatenate([[self._last], x])
        self._last = x[-1]
        if m.size == 0:
            return np.empty(0)
        num = m * self._p
        i = num // self._q
        frac = (num - i * self._q) / self._q
        j = i - start
        return block[j] + frac * (block[j + 1] - block[j])
