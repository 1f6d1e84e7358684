"""The TFLite converter, set up and silenced: an export copy in, one ``MODES`` file out.

Builtin ops only (no Flex). int8 is split open in ``convert.int8``; this module gives it the
frozen function, the calibration-only model and the representative dataset it needs.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Callable, Iterator

import numpy as np

from edge_ecg.errors import InputError, ModelError, first_line
from edge_ecg.native import quiet_stderr

from .calibration import Calibration

MODES = ("float32", "fp16", "dynamic", "int8")


@contextlib.contextmanager
def quiet_converter() -> Iterator[None]:
    """The converter's native chatter, Python warnings and absl deprecation notes, silenced."""
    absl = logging.getLogger("absl")
    level = absl.level
    absl.setLevel(logging.ERROR)
    try:
        with quiet_stderr(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        absl.setLevel(level)


def frozen_function(export):
    """The export copy's concrete function with every weight folded in as a constant.

    Converting the tf.Module directly keeps Keras' variables as VAR_HANDLE/READ_VARIABLE
    ops, which the int8 calibrator cannot run; freezing first gives a graph of constants.
    """
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    return convert_variables_to_constants_v2(export.serve.get_concrete_function())


def tflite_converter(
    frozen, mode: str, calibration: Calibration | None = None, per_channel: bool = False
):
    """A ``tf.lite.TFLiteConverter`` set up for one of ``MODES`` (builtin ops only: no Flex)."""
    import tensorflow as tf

    if mode not in MODES:
        raise InputError(f"mode {mode!r} is not one of {', '.join(MODES)}")
    with quiet_converter():  # an absl deprecation note about the (frozen) input
        converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    converter._experimental_disable_per_channel = not per_channel
    if mode == "fp16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif mode == "dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif mode == "int8":
        if calibration is None:
            raise InputError("int8 conversion needs calibration beats")
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
        converter.representative_dataset = beat_samples(frozen, calibration.windows, calibration.rr)
    return converter


@contextlib.contextmanager
def converting(what: str) -> Iterator[None]:
    """Run a converter step quietly; any error it raises (the converter, calibrator and
    quantizer raise many types, all meaning "cannot") becomes one ``ModelError`` line."""
    try:
        with quiet_converter():
            yield
    except Exception as e:
        raise ModelError(f"{what} failed: {first_line(e)[:300]}") from None


def to_tflite(
    frozen, mode: str, calibration: Calibration | None = None, per_channel: bool = False
) -> bytes:
    """Convert a frozen function in one of ``MODES``."""
    converter = tflite_converter(frozen, mode, calibration, per_channel)
    with converting(f"TFLite conversion ({mode})"):
        return bytes(converter.convert())


def calibrated_model(frozen, calibration: Calibration, per_channel: bool = False) -> bytes:
    """The float model with each tensor's min/max over the calibration beats recorded in it."""
    converter = tflite_converter(frozen, "int8", calibration, per_channel)
    converter._experimental_calibrate_only = True
    with converting("int8 calibration"):
        return bytes(converter.convert())


def beat_samples(frozen, windows: np.ndarray, rr: np.ndarray) -> Callable[[], Iterator[list]]:
    """A dataset generator of single beats in the frozen function's input order.

    A frozen function carries no signature, so samples are lists in its input order, which
    we read from the function's own input names rather than assume.
    """
    names = [t.name.split(":")[0] for t in frozen.inputs]
    if sorted(names) != ["rr", "window"]:
        raise ModelError(f"the export copy's inputs are {names}, expected window and rr")

    def samples() -> Iterator[list]:
        for i in range(len(windows)):
            beat = {"window": windows[i : i + 1], "rr": rr[i : i + 1]}
            yield [beat[n] for n in names]

    return samples
