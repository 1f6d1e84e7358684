"""The export copy: the trained Keras model as one fixed-batch TF graph the converter can take.

The trained ``.keras`` model has a dynamic batch and a Keras ``LSTM`` that TF lowers to a WHILE
loop; converted as is, it gives WHILE ops (the int8 calibrator crashes on them), TensorList
ops for the dynamic batch, or Flex ops (``model.export(format="litert")``). The export copy
runs the same weights on a batch of one beat, every layer except the BiLSTM by calling the
trained Keras layer itself, and the BiLSTM as our own unrolled cell in plain TF ops.

Why our own cell rather than ``LSTM(unroll=True)``: the int8 file grows with ops x steps, not
with parameters. The copy here computes the input projection of every step and both
directions in one matmul, and runs both directions in one joined state (h = [h_fwd, h_bwd])
with a block-diagonal recurrent matrix, so each step is one FULLY_CONNECTED and ~10
element-wise ops for both directions, instead of ~31 ops per direction with Keras' unroll.
docs/quantization.md compares the two.

The head gets one rewrite, for int8: ``Dense(Concatenate([pooled, Normalization(rr)]))`` is
computed as one FULLY_CONNECTED per part, summed, with the normalization folded into the rr
part's weights. An int8 CONCATENATION forces one scale on all its inputs, and the normalized RR
features reach +-18 (long pauses) while the pooled LSTM features stay within +-1: concatenated,
the LSTM features were left with a handful of int8 steps, the largest source of int8 drift.

Layout ops are rewritten away too, each a few hundred bytes of the int8 file for nothing: the
channel pick (Permute, Cropping1D, Permute) becomes one slice, and the BiLSTM hands attention
its (T, 2u) rows, so Dense, Flatten and Dot run on them without a batch axis to add and remove
(``Rows``). Same values, same int8 outputs (docs/quantization-notes.md, "Packing").

Layout of the joined gates (u units per direction), chosen so that each gate of both
directions is one contiguous slice and the three sigmoid gates are one slice:
``[i_f i_b | f_f f_b | o_f o_b | g_f g_b]``. Keras' own order is i, f, g (called c), o.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from edge_ecg.errors import ModelError
from edge_ecg.spec import CHANNELS, N_RR, WINDOW

#: Keras gate order in a kernel's columns, and the order of the joined layout above.
KERAS_GATES = ("i", "f", "g", "o")
#: Names of the recurrent cell's tensors that are the same quantity at every step (TF numbers
#: the repeats: lstm_c, lstm_c_1, ...): h times the recurrent matrix, gate pre-activations,
#: f*c, i*g, the cell state, h.
ROLES = ("lstm_rec", "lstm_z", "lstm_fc", "lstm_ig", "lstm_c", "lstm_h")
JOINED_GATES = ("i", "f", "o", "g")


class JoinedBiLSTM:
    """A Keras ``Bidirectional(LSTM)`` as an unrolled joined-direction cell in TF ops.

    ``return_sequences`` follows the Keras layer: every step (forward output at t beside the
    backward output at t, as Keras re-reverses the backward sequence), or the final state of
    each direction (forward after the last step, backward after step 0).
    """

    def __init__(self, layer) -> None:
        _check_bidirectional(layer)
        self.return_sequences = bool(layer.return_sequences)
        fwd, bwd = layer.forward_layer.cell, layer.backward_layer.cell
        self.units = int(fwd.units)
        kernels = [np.asarray(c.kernel) for c in (fwd, bwd)]
        recurrent = [np.asarray(c.recurrent_kernel) for c in (fwd, bwd)]
        biases = [
            np.asarray(c.bias) if c.use_bias else np.zeros(4 * self.units, np.float32)
            for c in (fwd, bwd)
        ]
        self.kernel = tf.constant(self._joined_columns(kernels))
        self.bias = tf.constant(self._joined_columns([b[None] for b in biases])[0])
        # Block-diagonal: h_fwd feeds only forward columns, h_bwd only backward ones.
        u = self.units
        rec = [np.zeros((2 * u, 4 * u), np.float32) for _ in range(2)]
        rec[0][:u], rec[1][u:] = recurrent
        self.recurrent = tf.constant(self._joined_columns(rec))
        # True where a column (of 8u gates, or of 2u outputs) belongs to the forward direction.
        self.forward_gates = tf.constant(np.tile(np.repeat([True, False], u), 4)[None])
        self.forward_units = tf.constant(np.repeat([True, False], u)[None])

    def _joined_columns(self, pair: list[np.ndarray]) -> np.ndarray:
        """(rows, 4u) forward and backward matrices -> (rows, 8u) in the joined gate layout."""
        u = self.units
        blocks = []
        for gate in JOINED_GATES:
            k = KERAS_GATES.index(gate)
            blocks += [m[:, k * u : (k + 1) * u] for m in pair]
        return np.concatenate(blocks, axis=1).astype(np.float32)

    def __call__(self, seq: tf.Tensor) -> tf.Tensor:
        """(1, T, F) -> (1, T, 2u) with return_sequences (as ``Rows``), else (1, 2u)."""
        steps, features = int(seq.shape[1]), int(seq.shape[2])
        u2 = 2 * self.units
        x = tf.reshape(seq, (steps, features))
        # Both directions' input projections for every step in one matmul; step t of the
        # backward direction reads time T-1-t, hence the reversed copy.
        proj = tf.matmul(x, self.kernel) + self.bias
        proj = tf.where(self.forward_gates, proj, tf.reverse(proj, axis=[0]))
        rows = tf.split(proj, steps, axis=0)  # one SPLIT op: each row already (1, 8u)
        states = []
        h = c = None
        # Op names by role: the converter names each tensor after its op, and int8 ranges are
        # shared per role across steps (int8.shared_step_ranges).
        rec_name, z_name, fc_name, ig_name, c_name, h_name = ROLES
        for t in range(steps):
            if h is None:
                z = rows[t]
            else:
                z = tf.add(rows[t], tf.matmul(h, self.recurrent, name=rec_name), name=z_name)
            ifo, g = tf.split(z, [3 * u2, u2], axis=1)
            g = tf.tanh(g)
            if c is None:
                # No forget gate at step 0 (c starts at 0). Slices, not a SPLIT with an unused
                # output: the int8 calibrator has no range for an unused tensor and then
                # leaves the SPLIT in float, at random from run to run.
                sig = tf.sigmoid(ifo)
                i, o = sig[:, :u2], sig[:, 2 * u2 :]
                c = tf.multiply(i, g, name=c_name)
            else:
                i, f, o = tf.split(tf.sigmoid(ifo), 3, axis=1)
                c = tf.add(
                    tf.multiply(f, c, name=fc_name), tf.multiply(i, g, name=ig_name), name=c_name
                )
            h = tf.multiply(o, tf.tanh(c), name=h_name)
            states.append(h)
        if not self.return_sequences:
            return h
        joined = tf.concat(states, axis=0)  # (T, 2u); row t holds backward time T-1-t
        return Rows(tf.where(self.forward_units, joined, tf.reverse(joined, axis=[0])))


def _check_bidirectional(layer) -> None:
    """Refuse what the joined cell does not reproduce, rather than convert it wrongly."""
    if not isinstance(layer.forward_layer, keras.layers.LSTM):
        raise ModelError(f"layer {layer.name}: only Bidirectional(LSTM) can be exported")
    if layer.merge_mode != "concat":
        raise ModelError(f"layer {layer.name}: merge_mode {layer.merge_mode!r} is not 'concat'")
    for cell in (layer.forward_layer.cell, layer.backward_layer.cell):
        if (cell.activation.__name__, cell.recurrent_activation.__name__) != ("tanh", "sigmoid"):
            raise ModelError(
                f"layer {layer.name}: activations {cell.activation.__name__}/"
                f"{cell.recurrent_activation.__name__}; the export supports tanh/sigmoid"
            )
    if layer.forward_layer.go_backwards or not layer.backward_layer.go_backwards:
        raise ModelError(f"layer {layer.name}: unexpected direction settings")


@dataclass(frozen=True)
class Affine:
    """``x * scale + offset`` not computed yet, so that a Dense layer after it can absorb it."""

    x: tf.Tensor
    scale: np.ndarray
    offset: np.ndarray

    def tensor(self) -> tf.Tensor:
        return self.x * self.scale + self.offset

    @property
    def width(self) -> int:
        return int(self.x.shape[-1])


@dataclass(frozen=True)
class Parts:
    """A last-axis concatenation not computed yet (see ``FoldedDense``)."""

    parts: tuple

    def tensor(self) -> tf.Tensor:
        return tf.concat([materialize(p) for p in self.parts], axis=-1)


@dataclass(frozen=True)
class Rows:
    """A (1, T, F) sequence held as its (T, F) rows, not reshaped yet.

    The layers after the BiLSTM (Dense, Flatten, Dot) work on the rows directly; with a batch
    axis each of them cost the int8 file a RESHAPE and its shape tensor.
    """

    x: tf.Tensor

    def tensor(self) -> tf.Tensor:
        return tf.expand_dims(self.x, 0)


@dataclass(frozen=True)
class Swapped:
    """``x`` (1, T, C) with its last two axes swapped, not transposed yet: a channel pick
    (Permute, Cropping1D, Permute) becomes one slice of ``x`` instead of a TRANSPOSE and a
    slice."""

    x: tf.Tensor

    def tensor(self) -> tf.Tensor:
        return tf.transpose(self.x, (0, 2, 1))


DEFERRED = (Affine, Parts, Rows, Swapped)


def materialize(value):
    """The tensor of a value that may still be deferred (``DEFERRED``)."""
    return value.tensor() if isinstance(value, DEFERRED) else value


def normalization(layer) -> Callable:
    """Keras' ``(x - mean) / max(sqrt(var), eps)`` as a deferred ``Affine``."""
    if layer.invert:
        raise ModelError(f"layer {layer.name}: an inverted Normalization cannot be exported")
    scale = 1 / np.maximum(np.sqrt(np.asarray(layer.variance)), keras.backend.epsilon())
    offset = -np.asarray(layer.mean) * scale
    return lambda x: Affine(materialize(x), scale.astype(np.float32), offset.astype(np.float32))


def concatenate(layer) -> Callable:
    """A last-axis concatenation of 2-D inputs, deferred; any other as Keras does it."""

    def call(inputs: list):
        if layer.axis in (-1, 1) and all(len(materialize(x).shape) == 2 for x in inputs):
            return Parts(tuple(inputs))
        return layer([materialize(x) for x in inputs])

    return call


class FoldedDense:
    """A Dense layer that takes deferred inputs apart: one matmul per concatenated part, with
    any ``Affine`` folded into that part's rows of the kernel and into the bias."""

    def __init__(self, layer) -> None:
        self.layer = layer
        self.kernel = np.asarray(layer.kernel)  # read now: inside tf.function there is no numpy
        self.bias = np.asarray(layer.bias) if layer.use_bias else np.zeros(self.kernel.shape[1])

    def __call__(self, x):
        if isinstance(x, Rows):
            y = tf.matmul(x.x, self.kernel.astype(np.float32), name=self.layer.name)
            if self.layer.use_bias:
                y = y + self.bias.astype(np.float32)
            return Rows(self.layer.activation(y))
        if not isinstance(x, Affine | Parts):
            return self.layer(materialize(x))
        kernel, bias = self.kernel, self.bias
        products, row = [], 0
        for part in x.parts if isinstance(x, Parts) else (x,):
            part = part if isinstance(part, Affine) else materialize(part)
            width = part.width if isinstance(part, Affine) else int(part.shape[-1])
            w = kernel[row : row + width]
            row += width
            if isinstance(part, Affine):
                bias = bias + part.offset.reshape(-1) @ w
                w = part.scale.reshape(-1, 1) * w
                part = part.x
            products.append(tf.matmul(part, w.astype(np.float32), name=self.layer.name))
        # The bias on one product, where the converter fuses it into that FULLY_CONNECTED.
        products[-1] = products[-1] + bias.astype(np.float32)
        total = products[0]
        for product in products[1:]:
            total = total + product  # ADD, which int8 has (ADD_N it has not)
        return self.layer.activation(total)


class LayoutRewrite:
    """A layout layer that takes deferred values: it rewrites what it reproduces exactly, and
    runs the trained Keras layer itself on real tensors for anything else (``keras``)."""

    def __init__(self, layer) -> None:
        self.layer = layer

    def keras(self, x):
        return self.layer([materialize(v) for v in x] if isinstance(x, list) else materialize(x))


class SwapAxes(LayoutRewrite):
    """``Permute((2, 1))`` as a deferred ``Swapped`` (undone for free by a second one)."""

    def __call__(self, x):
        if tuple(self.layer.dims) != (2, 1):
            return self.keras(x)
        if isinstance(x, Swapped):
            return x.x
        x = materialize(x)
        return Swapped(x) if len(x.shape) == 3 else self.layer(x)


class ChannelCrop(LayoutRewrite):
    """``Cropping1D`` of swapped axes: a slice of the channels of the unswapped tensor."""

    def __call__(self, x):
        if not isinstance(x, Swapped):
            return self.keras(x)
        start, end = self.layer.cropping
        channels = int(x.x.shape[2])
        return Swapped(tf.identity(x.x[:, :, start : channels - end], name=self.layer.name))


class FlattenRows(LayoutRewrite):
    """``Flatten`` of ``Rows``: one reshape of the rows to (1, T * F)."""

    def __call__(self, x):
        if isinstance(x, Rows):
            return tf.reshape(x.x, (1, -1), name=self.layer.name)
        return self.keras(x)


class DotRows(LayoutRewrite):
    """``Dot(axes=1)`` of step weights (1, T) and a sequence as ``Rows``: (1, T) @ (T, F).

    Anything else (other axes, ``normalize=True``, other shapes) runs the Keras layer itself.
    """

    def __call__(self, inputs: list):
        a, b = inputs
        axes = self.layer.axes
        plain = axes in (1, [1, 1], (1, 1)) and not self.layer.normalize
        if plain and isinstance(b, Rows) and len(materialize(a).shape) == 2:
            return tf.matmul(materialize(a), b.x, name=self.layer.name)
        return self.keras(inputs)


#: Layout layers and their rewrites.
LAYOUT_REWRITES = {
    keras.layers.Permute: SwapAxes,
    keras.layers.Cropping1D: ChannelCrop,
    keras.layers.Flatten: FlattenRows,
    keras.layers.Dot: DotRows,
}


#: How the BiLSTM is unrolled: our joined cell, or Keras' own ``unroll=True`` (kept only to
#: compare the two in docs/quantization.md).
LSTM_EXPORTS = ("joined", "keras-unroll")


def keras_unrolled(layer) -> keras.layers.Bidirectional:
    """The same Bidirectional(LSTM) with ``unroll=True``, built eagerly with the trained weights."""
    _check_bidirectional(layer)
    fwd = layer.forward_layer
    copy = keras.layers.Bidirectional(
        keras.layers.LSTM(fwd.units, return_sequences=layer.return_sequences, unroll=True),
        name=f"{layer.name}_unrolled",
    )
    steps, features = layer.input.shape[1:]
    copy(np.zeros((1, steps, features), np.float32))  # builds the variables outside tf.function
    copy.set_weights(layer.get_weights())
    return copy


def _replacement(layer, lstm: str) -> Callable | None:
    """Our own implementation of a layer, or None to call the trained Keras layer itself."""
    if isinstance(layer, keras.layers.Bidirectional):
        return JoinedBiLSTM(layer) if lstm == "joined" else keras_unrolled(layer)
    if isinstance(layer, keras.layers.RNN):
        raise ModelError(
            f"layer {layer.name}: a bare {type(layer).__name__} cannot be exported yet "
            "(only Bidirectional(LSTM))"
        )
    if isinstance(layer, keras.layers.Normalization):
        return normalization(layer)
    if isinstance(layer, keras.layers.Concatenate):
        return concatenate(layer)
    if isinstance(layer, keras.layers.Dense):
        return FoldedDense(layer)
    for kind, rewrite in LAYOUT_REWRITES.items():
        if isinstance(layer, kind):
            return rewrite(layer)
    return None


#: Replacements that accept deferred values; every other layer gets real tensors.
DEFERRED_OK = (FoldedDense, LayoutRewrite)


def _as_list(x) -> list:
    return list(x) if isinstance(x, list | tuple) else [x]


class ExportModel(tf.Module):
    """The trained model on one beat: ``serve(window, rr) -> probs``, batch fixed at 1.

    The graph is walked layer by layer (``model.layers`` is in topological order) through
    each layer's public ``input``/``output`` tensors, so any model built from our layers
    works without knowing its architecture.
    """

    def __init__(self, model, lstm: str = "joined") -> None:
        super().__init__(name="export")
        if lstm not in LSTM_EXPORTS:
            raise ValueError(f"lstm: {lstm!r} is not one of {LSTM_EXPORTS}")
        self.model = model
        names = [t.name.split(":")[0] for t in model.inputs]
        shapes = {n: tuple(t.shape[1:]) for n, t in zip(names, model.inputs, strict=True)}
        if sorted(shapes.values(), key=len) != [(N_RR,), (WINDOW, CHANNELS)]:
            raise ModelError(f"inputs {shapes} are not a beat window and the RR features")
        self.window_name = next(n for n, s in shapes.items() if len(s) == 2)
        self.rr_name = next(n for n, s in shapes.items() if len(s) == 1)
        self._steps = []
        for layer in model.layers:
            if not isinstance(layer, keras.layers.InputLayer):
                self._steps.append((layer, _replacement(layer, lstm) or layer))
        self.serve = tf.function(
            self._serve,
            input_signature=[
                tf.TensorSpec((1, WINDOW, CHANNELS), tf.float32, name=self.window_name),
                tf.TensorSpec((1, N_RR), tf.float32, name=self.rr_name),
            ],
            autograph=False,
        )

    def _serve(self, window: tf.Tensor, rr: tf.Tensor) -> dict[str, tf.Tensor]:
        by_name = {self.window_name: window, self.rr_name: rr}
        values = {id(t): by_name[t.name.split(":")[0]] for t in self.model.inputs}
        for layer, fn in self._steps:
            args = [values[id(t)] for t in _as_list(layer.input)]
            if not isinstance(fn, DEFERRED_OK) and not isinstance(layer, keras.layers.Concatenate):
                args = [materialize(a) for a in args]
            out = fn(args if isinstance(layer.input, list | tuple) else args[0])
            for keras_t, value in zip(_as_list(layer.output), _as_list(out), strict=True):
                values[id(keras_t)] = value
        return {"probs": materialize(values[id(self.model.outputs[0])])}

    def predict(self, windows: np.ndarray, rr: np.ndarray) -> np.ndarray:
        """Probabilities of n beats, one call per beat (for checks; slow)."""
        out = [
            self.serve(windows[i : i + 1], rr[i : i + 1])["probs"].numpy()[0]
            for i in range(len(windows))
        ]
        return np.asarray(out, np.float32).reshape(len(windows), -1)


def check_export(
    model, export: ExportModel, windows: np.ndarray, rr: np.ndarray, atol: float = 1e-5
) -> float:
    """Max abs difference of the export copy from the Keras model on some beats; raises above."""
    inputs = {export.window_name: windows, export.rr_name: rr}
    want = np.asarray(model.predict(inputs, batch_size=256, verbose=0), np.float32)
    got = export.predict(windows, rr)
    err = float(np.max(np.abs(got - want))) if len(want) else 0.0
    if err > atol:
        raise ModelError(
            f"the export copy differs from the Keras model by {err:.2e} (> {atol:g}) on real "
            "beats; refusing to convert a different model"
        )
    return err
