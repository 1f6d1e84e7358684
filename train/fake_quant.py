"""Training against int8 rounding: fake quantization at the layer outputs, stripped before saving.

``FakeQuant`` rounds a tensor to 256 levels between a range it learns as a running (EMA) min
and max of the training batches, with straight-through gradients (TF's
``fake_quant_with_min_max_vars``), so the network trains on what an int8 file computes at
those points. It is a training aid: ``strip_fake_quant`` copies the trained weights into the
same architecture without it, so the saved ``model.keras`` holds built-in layers only and loads
with ``safe_mode=True``. Model selection scores the model as trained (fake quantization on,
close to the int8 file); ``holdout.json`` and ``metrics.json`` score the stripped float model.
Measured in docs/results.md ("Fake-quantization training").
"""

from __future__ import annotations

import keras

#: Registered under this package so checkpoints of a run (best.keras, last.keras) reload.
PACKAGE = "edge_ecg_train"


@keras.saving.register_keras_serializable(package=PACKAGE)
class FakeQuant(keras.layers.Layer):
    """8-bit fake quantization over a running range; ``non_negative`` fixes the low end at 0
    (after a ReLU, as the int8 file's range is)."""

    def __init__(self, non_negative: bool = False, momentum: float = 0.99, **kwargs) -> None:
        super().__init__(**kwargs)
        self.non_negative = non_negative
        self.momentum = momentum

    def build(self, input_shape) -> None:
        self.low = self.add_weight(shape=(), initializer="zeros", trainable=False, name="low")
        self.high = self.add_weight(shape=(), initializer="zeros", trainable=False, name="high")
        self.seen = self.add_weight(shape=(), initializer="zeros", trainable=False, name="seen")

    def call(self, x, training=False):
        import tensorflow as tf

        if training:
            low = tf.minimum(tf.reduce_min(x), 0.0)
            high = tf.maximum(tf.reduce_max(x), 0.0)
            m = tf.where(self.seen > 0, self.momentum, 0.0)  # the first batch sets the range
            self.low.assign(m * self.low + (1 - m) * low)
            self.high.assign(m * self.high + (1 - m) * high)
            self.seen.assign(1.0)
        low = 0.0 if self.non_negative else self.low
        high = tf.maximum(self.high, low + 1e-3)  # before any batch: a tiny range, not none
        return tf.quantization.fake_quant_with_min_max_vars(x, low, high, num_bits=8)

    def get_config(self) -> dict:
        config = super().get_config()
        return {**config, "non_negative": self.non_negative, "momentum": self.momentum}


def strip_fake_quant(model: keras.Model, plain: keras.Model) -> keras.Model:
    """``plain`` (the same architecture built without fake quantization) with ``model``'s
    weights, matched by layer name; an error if any weighted layer has no counterpart."""
    for layer in plain.layers:
        if layer.weights:
            layer.set_weights(model.get_layer(layer.name).get_weights())
    return plain
