"""What a converted file holds, checked: its ops (no Flex, no WHILE, no state; all integer in
int8), and the quantization of its inputs and output the manifest records.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from edge_ecg.errors import ModelError
from edge_ecg.interpreter import TFLiteModel

#: Ops that would make a file unusable on our runtimes or keep state between invokes.
FORBIDDEN_OPS = ("WHILE", "CALL_ONCE", "VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE")


#: Tensor dtypes allowed in a full-integer file: int8 data, int32 biases/shapes, bool masks.
INT8_DTYPES = ("INT8", "INT32", "BOOL")

#: The int16 tensor between a SOFTMAX and the QUANTIZE after it (convert/softmax.py).
INT16_SOFTMAX_OPS = ("SOFTMAX", "QUANTIZE")


def ops_by_type(data: bytes) -> dict[str, int]:
    """Op name -> count over all subgraphs (custom ops by their custom code, e.g. FlexX)."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(data))
    counts: Counter[str] = Counter()
    for subgraph in model.subgraphs:
        for op in subgraph.operators:
            code = model.operatorCodes[op.opcodeIndex]
            name = flatbuffer_utils.opcode_to_name(model, op.opcodeIndex)
            if name == "CUSTOM" and code.customCode:
                name = code.customCode.decode()
            counts[name] += 1
    return dict(sorted(counts.items()))


def check_ops(data: bytes, mode: str) -> dict[str, int]:
    """Refuse a file our runtimes cannot run or that keeps state; return its op counts.

    No Flex (TF) ops, no WHILE (an un-unrolled RNN), one subgraph, no variable tensors or
    resource-variable ops (a stateful file would answer differently for the same beat), and
    for int8 no op touching a float tensor.
    """
    from tensorflow.lite.tools import flatbuffer_utils

    ops = ops_by_type(data)
    bad = sorted(op for op in ops if op.startswith("Flex") or op in FORBIDDEN_OPS)
    if bad:
        raise ModelError(f"{mode}: the converted file contains {', '.join(bad)} ops")
    model = flatbuffer_utils.read_model_from_bytearray(bytearray(data))
    if len(model.subgraphs) != 1:
        raise ModelError(f"{mode}: {len(model.subgraphs)} subgraphs, expected 1 (no loops)")
    graph = model.subgraphs[0]
    variables = [i for i, t in enumerate(graph.tensors) if t.isVariable]
    if variables:
        raise ModelError(f"{mode}: {len(variables)} variable tensors keep state between beats")
    if mode == "int8":
        floats = non_integer_ops(data)
        if floats:
            listed = ", ".join(f"{k} x{v}" for k, v in sorted(floats.items()))
            raise ModelError(f"int8: these ops are not integer: {listed}")
    return ops


def non_integer_ops(data: bytes) -> Counter[str]:
    """Ops that read or write a tensor other than int8 data, int32 biases/shapes, bool masks
    (the QUANTIZE/DEQUANTIZE at the graph's inputs and output of a float-I/O file and the
    int16 softmax outputs of ``softmax.int16_softmax`` excepted)."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(data))
    found: Counter[str] = Counter()
    for graph in model.subgraphs:
        edges = {*graph.inputs.tolist(), *graph.outputs.tolist()}
        for op in graph.operators:
            name = flatbuffer_utils.opcode_to_name(model, op.opcodeIndex)
            if name in ("QUANTIZE", "DEQUANTIZE") and edges & {*op.inputs, *op.outputs}:
                continue  # float32 I/O: the conversion at the graph's own edges
            types = {
                flatbuffer_utils.type_to_name(graph.tensors[t].type)
                for t in [*op.inputs, *op.outputs]
                if t >= 0
            }
            allowed = {*INT8_DTYPES, *(("INT16",) if name in INT16_SOFTMAX_OPS else ())}
            for dtype in sorted(types - allowed):
                found[f"{name} ({dtype})"] += 1
    return found


def check_stateless(model: TFLiteModel, windows: np.ndarray, rr: np.ndarray) -> None:
    """The same beat gives the same output, whatever ran before it (no hidden state)."""
    a = model.predict(windows[:1], rr[:1])
    model.predict(windows[1:3], rr[1:3])
    again = model.predict(windows[:1], rr[:1])
    if not np.array_equal(a, again):
        raise ModelError(f"{model.path.name}: the same beat gave two outputs; the file keeps state")


def port_quantization(data: bytes) -> dict[str, dict]:
    """dtype, scale and zero point of the window/rr inputs and the probs output."""
    from edge_ecg.interpreter import interpreter_class

    _, cls = interpreter_class()
    interp = cls(model_content=data)
    out = {}
    details = [*interp.get_input_details(), *interp.get_output_details()]
    for d, name in zip(details, _port_names(details), strict=True):
        scale, zero_point = d["quantization"]
        out[name] = {
            "dtype": np.dtype(d["dtype"]).name,
            "scale": float(scale),
            "zero_point": int(zero_point),
        }
    return out


def _port_names(details: list[dict]) -> list[str]:
    names = []
    for d in details[:-1]:
        names.append("window" if len(d["shape"]) == 3 else "rr")
    return [*names, "probs"]
