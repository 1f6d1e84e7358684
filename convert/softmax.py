"""Int8 softmax that gives the same bytes on ARM and x86.

LiteRT's int8-in, int8-out SOFTMAX kernel takes a different path on aarch64 builds
(``TFLITE_SOFTMAX_USE_UINT16_LUT``: a uint16 exp table) than on x86 (a float table), so the
same file's attention weights and class probabilities can differ by one int8 step between a
Raspberry Pi and the machine that validated it, and the recurrence-free tail of the model
amplifies that to several steps at the output. With an int16 output the kernel takes the
float-table path on every architecture. So each int8 SOFTMAX here writes int16 (the
kernel's required 1/65536 scale, zero point -32768) and a QUANTIZE brings it back to the
int8 tensor the next op reads (docs/quantization-notes.md, "Softmax on ARM").
"""

from __future__ import annotations

import numpy as np

#: The int16 output quantization LiteRT and TFLite Micro require of an int8-input SOFTMAX.
INT16_SOFTMAX_SCALE = 1 / 65536
INT16_SOFTMAX_ZERO_POINT = -32768


def int16_softmax(data: bytes) -> bytes:
    """``data`` with every int8 -> int8 SOFTMAX writing int16, then a QUANTIZE back to int8."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(data))
    softmax = _opcode(model, schema.BuiltinOperator.SOFTMAX, schema, add=False)
    if softmax is None:
        return data
    quantize = _opcode(model, schema.BuiltinOperator.QUANTIZE, schema, add=True)
    for graph in model.subgraphs:
        operators = []
        for op in graph.operators:
            operators.append(op)
            out = graph.tensors[op.outputs[0]]
            if op.opcodeIndex != softmax or out.type != schema.TensorType.INT8:
                continue
            wide = schema.TensorT()
            wide.shape = np.array(out.shape, np.int32)
            wide.shapeSignature = out.shapeSignature
            wide.type = schema.TensorType.INT16
            wide.buffer = 0  # no data: the schema's shared empty buffer
            wide.name = out.name + b"/int16" if out.name else b""
            wide.quantization = schema.QuantizationParametersT()
            wide.quantization.scale = np.array([INT16_SOFTMAX_SCALE], np.float32)
            wide.quantization.zeroPoint = np.array([INT16_SOFTMAX_ZERO_POINT], np.int64)
            graph.tensors.append(wide)
            back = schema.OperatorT()
            back.opcodeIndex = quantize
            back.inputs = np.array([len(graph.tensors) - 1], np.int32)
            back.outputs = np.array([op.outputs[0]], np.int32)
            op.outputs = np.array([len(graph.tensors) - 1], np.int32)
            operators.append(back)
        graph.operators = operators
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def _opcode(model, builtin: int, schema, add: bool) -> int | None:
    """Index of ``builtin`` in the model's operator codes (appended when ``add``)."""
    for i, code in enumerate(model.operatorCodes):
        if max(code.builtinCode, code.deprecatedBuiltinCode) == builtin:
            return i
    if not add:
        return None
    code = schema.OperatorCodeT()
    code.builtinCode = builtin
    # Codes above 127 live only in the newer field; the old one holds the placeholder.
    code.deprecatedBuiltinCode = min(builtin, 127)
    code.version = 1
    model.operatorCodes.append(code)
    return len(model.operatorCodes) - 1
