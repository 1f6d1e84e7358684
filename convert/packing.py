"""Packing a ``.tflite`` flatbuffer tighter without changing a single output.

A small file is mostly a fixed cost per op and per tensor: stripping names and writing each
distinct vector, quantization table and op option once takes kilobytes off the int8 file
(docs/quantization-notes.md, "Packing").
"""

from __future__ import annotations

import copy

import numpy as np

#: Metadata entries ``compact`` leaves out: provenance no interpreter reads.
DROPPED_METADATA = (b"CONVERSION_METADATA",)


def compact(data: bytes, share: bool = True) -> bytes:
    """The same model in fewer bytes: what the interpreters compute is unchanged.

    - tensor names and signatures stripped (``flatbuffer_utils.strip_strings``);
    and with ``share`` (docs/quantization.md measures each step):
    - every tensor without data points at the shared empty buffer 0 (the schema's sentinel)
      instead of an empty buffer of its own;
    - tensors with identical quantization parameters share one table (flatbuffers allow a
      table to be referenced many times): an int8 graph repeats few distinct scales;
    - identical vectors (shapes, scales, zero points) and identical op options are written once
      and referenced from every place that uses them: an unrolled graph repeats them per step;
    - ``has_rank`` is left out where the shape already says the rank (it only tells a scalar
      from a tensor of unknown rank when the shape is empty);
    - tensors without data whose tables are identical (shape, type, quantization) share one
      table: with names gone, the activations of an unrolled graph repeat a few kinds; the
      interpreter still counts each entry as its own tensor;
    - the converter's ``CONVERSION_METADATA`` (its version and options) is dropped: no
      interpreter reads it, and the sidecar manifest records the converter's versions and
      options.
    """
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(data))
    flatbuffer_utils.strip_strings(model)
    if not share:
        return bytes(flatbuffer_utils.convert_object_to_bytearray(model))
    dropped = {m.buffer for m in model.metadata or [] if m.name in DROPPED_METADATA}
    model.metadata = [m for m in model.metadata or [] if m.name not in DROPPED_METADATA] or None
    for i in dropped:
        model.buffers[i].data = None
    keep, remap = [0], {0: 0}
    for i, buffer in enumerate(model.buffers[1:], start=1):
        if buffer.data is not None and len(buffer.data):
            remap[i] = len(keep)
            keep.append(i)
    for subgraph in model.subgraphs:
        for tensor in subgraph.tensors:
            tensor.buffer = remap.get(tensor.buffer, 0)
    for md in model.metadata or []:
        md.buffer = remap.get(md.buffer, 0)
    model.buffers = [model.buffers[i] for i in keep]

    shared: dict[tuple, object] = {}
    for subgraph in model.subgraphs:
        for tensor in subgraph.tensors:
            if tensor.shape is not None and len(tensor.shape):
                tensor.hasRank = False
            q = tensor.quantization
            if q is None or q.scale is None or q.min is not None or q.details is not None:
                continue
            key = (
                np.asarray(q.scale).tobytes(),
                np.asarray(q.zeroPoint).tobytes(),
                q.quantizedDimension,
            )
            if key not in shared:
                shared[key] = _packed_once(q)
            tensor.quantization = shared[key]
    _share_tensors(model)
    _share_options(model)
    builder = _sharing_builder()
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _sharing_builder(size: int = 1024):
    """A flatbuffers builder that writes each distinct numpy vector once (flatbuffers allow any
    number of references to one vector); the object API packs every shape and scale anew."""
    import flatbuffers

    class SharingBuilder(flatbuffers.Builder):
        def __init__(self, size: int) -> None:
            super().__init__(size)
            self.vectors: dict[tuple, int] = {}

        def CreateNumpyVector(self, x):  # noqa: N802 - flatbuffers' name
            key = (x.dtype.str, x.shape, x.tobytes())
            if key not in self.vectors:
                self.vectors[key] = super().CreateNumpyVector(x)
            return self.vectors[key]

    return SharingBuilder(size)


def _share_tensors(model) -> None:
    """Point every entry of a data-less tensor at one packed copy of each distinct table.

    Two entries share a table only when every field the interpreter reads is equal.
    """
    for subgraph in model.subgraphs:
        shared: dict[tuple, object] = {}
        for i, tensor in enumerate(subgraph.tensors):
            if tensor.buffer or tensor.name or tensor.isVariable or tensor.sparsity is not None:
                continue
            key = (
                np.asarray(tensor.shape).tobytes(),
                None
                if tensor.shapeSignature is None
                else np.asarray(tensor.shapeSignature).tobytes(),
                tensor.type,
                tensor.hasRank,
                _quantization_key(tensor.quantization),
            )
            subgraph.tensors[i] = shared.setdefault(key, _packed_once(tensor))


def _quantization_key(q) -> tuple | None:
    """What a quantization table holds, comparable (``details`` tables are never shared)."""
    if q is None:
        return None
    if q.details is not None:
        return (id(q),)
    vectors = (q.scale, q.zeroPoint, q.min, q.max)
    return (
        *(None if v is None else np.asarray(v).tobytes() for v in vectors),
        q.quantizedDimension,
    )


def _share_options(model) -> None:
    """Point every op at one packed copy of each distinct builtin-options table."""
    shared: dict[tuple, object] = {}
    for subgraph in model.subgraphs:
        for op in subgraph.operators:
            options = op.builtinOptions
            if options is None:
                continue
            key = (type(options).__name__, repr(sorted(vars(options).items())))
            if key not in shared:
                shared[key] = _packed_once(options)
            op.builtinOptions = shared[key]


def _packed_once(table):
    """A copy of an object-API table whose Pack returns the first offset for each builder."""
    base = type(table)

    class Once(base):
        def Pack(self, builder):  # noqa: N802 - flatbuffers' name
            offsets = self.__dict__.setdefault("_offsets", {})
            if id(builder) not in offsets:
                offsets[id(builder)] = base.Pack(self, builder)
            return offsets[id(builder)]

    once = copy.copy(table)
    once.__class__ = Once
    return once
