"""The three architectures of the ablation, built from Keras built-in layers only.

All three share the CNN trunk and the RR branch, so the ablation isolates the temporal part:

- ``cnn``: CNN trunk -> flatten -> head.
- ``cnn_bilstm``: CNN trunk -> BiLSTM (final states of both directions) -> head.
- ``fusion``: CNN trunk -> BiLSTM (every step) -> attention pooling -> head.

The trunk pools the 128-sample beat window to ``STEPS`` = 8 steps, so the BiLSTM that the
converter unrolls stays short (int8 file size grows with ops x steps). Built-in layers only:
the saved ``.keras`` loads with ``safe_mode=True`` and carries no code.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

from edge_ecg.calibration import CALIBRATED_SUFFIX
from edge_ecg.spec import CHANNELS, CLASSES, N_RR, WINDOW

ARCHS = ("cnn", "cnn_bilstm", "fusion")
#: Steps of the sequence that reaches the BiLSTM (WINDOW / 2**4).
STEPS = 8
#: (filters at width 1, kernel) of the four conv blocks, each followed by max-pooling by 2.
TRUNK = ((16, 7), (32, 5), (32, 5), (32, 3))
#: Input names: the converter feeds its calibration data by these names.
WINDOW_INPUT, RR_INPUT = "window", "rr"


def scaled(n: int, width: float) -> int:
    """Filters/units at a width multiplier, never below 4."""
    return max(4, round(n * width))


def _select_channels(window, channels: tuple[int, ...]):
    """Keep some window channels with built-in layers (no Lambda: models must load safely)."""
    if channels == tuple(range(CHANNELS)):
        return window
    if len(channels) != 1 or channels[0] not in range(CHANNELS):
        raise ValueError(f"channels: {channels} is not one channel or all of 0..{CHANNELS - 1}")
    x = layers.Permute((2, 1), name="to_channels_first")(window)
    x = layers.Cropping1D((channels[0], CHANNELS - 1 - channels[0]), name="pick_channel")(x)
    return layers.Permute((2, 1), name="to_channels_last")(x)


def build_model(
    arch: str,
    width: float = 1.0,
    units: int = 16,
    dense: int = 32,
    dropout: float = 0.2,
    rr_mean: np.ndarray | None = None,
    rr_var: np.ndarray | None = None,
    batch_size: int | None = None,
    channels: tuple[int, ...] = (1,),
    fake_quant: bool = False,
    calibrated: bool = False,
) -> keras.Model:
    """Build an untrained model; ``rr_mean``/``rr_var`` standardise the RR features inside it.

    ``batch_size=1`` gives the fixed-batch graph the converter needs; weights are the same.
    ``channels`` picks the window channels the trunk sees: by default only the deviation from
    the patient's running median beat, which generalised across patients better than the raw
    beat (docs/results.md). ``fake_quant`` adds int8 fake quantization (``train.fake_quant``)
    where the int8 file rounds: the inputs, each conv block, the BiLSTM, attention and the
    dense layer; the same layer names, so ``strip_fake_quant`` can drop it again.
    ``calibrated`` marks, in the model's name, a model trained on patient-calibrated inputs
    (``edge_ecg.calibration``), so that nothing feeds it uncalibrated ones unawares.
    """
    if arch not in ARCHS:
        raise ValueError(f"unknown architecture {arch!r}: choose one of {', '.join(ARCHS)}")
    window = keras.Input((WINDOW, CHANNELS), batch_size=batch_size, name=WINDOW_INPUT)
    rr = keras.Input((N_RR,), batch_size=batch_size, name=RR_INPUT)

    def q(x, name: str, non_negative: bool = False):
        if not fake_quant:
            return x
        from .fake_quant import FakeQuant

        return FakeQuant(non_negative, name=f"fq_{name}")(x)

    x = q(_select_channels(window, tuple(channels)), "window")
    for i, (filters, kernel) in enumerate(TRUNK):
        x = layers.Conv1D(
            scaled(filters, width), kernel, padding="same", use_bias=False, name=f"conv{i}"
        )(x)
        x = layers.BatchNormalization(name=f"bn{i}")(x)
        x = q(layers.ReLU(name=f"relu{i}")(x), f"relu{i}", non_negative=True)
        x = layers.MaxPooling1D(2, name=f"pool{i}")(x)

    lstm_units = scaled(units, width)
    if arch == "cnn":
        x = layers.Flatten(name="flatten")(x)
    elif arch == "cnn_bilstm":
        x = q(layers.Bidirectional(layers.LSTM(lstm_units), name="bilstm")(x), "bilstm")
    else:
        seq = layers.Bidirectional(layers.LSTM(lstm_units, return_sequences=True), name="bilstm")(x)
        seq = q(seq, "bilstm")
        score = q(layers.Dense(lstm_units, activation="tanh", name="att_hidden")(seq), "att_hidden")
        score = layers.Dense(1, use_bias=False, name="att_score")(score)
        score = layers.Flatten(name="att_flat")(score)
        weights = layers.Softmax(name="att_weights")(score)
        x = q(layers.Dot(axes=1, name="att_pool")([weights, seq]), "att_pool")

    if rr_mean is None:
        rr_mean, rr_var = np.zeros(N_RR), np.ones(N_RR)
    rr_n = layers.Normalization(mean=rr_mean, variance=rr_var, name="rr_norm")(q(rr, "rr"))
    x = layers.Concatenate(name="fuse")([x, rr_n])
    x = layers.Dense(scaled(dense, width), activation="relu", name="dense")(x)
    x = q(x, "dense", non_negative=True)
    x = layers.Dropout(dropout, name="dropout")(x)
    out = layers.Dense(len(CLASSES), activation="softmax", name="probs")(x)
    name = f"{arch}_w{width:g}" + (CALIBRATED_SUFFIX if calibrated else "")
    return keras.Model([window, rr], out, name=name)
