"""Export a trained ``.keras`` model to ONNX, for the ONNX Runtime peer of ``edge-ecg bench``.

    python -m firmware_bench.onnx_export models/fusion/model.keras models/fusion/fusion.onnx

tf2onnx cannot read Keras 3 models, so the route is our own export copy (batch 1, unrolled
BiLSTM), frozen to a TF graph (every weight a constant), then ``tf2onnx.convert.from_graph_def``:
the same graph the TFLite converter gets. (Going through the float32 ``.tflite`` with
``from_tflite`` gave outputs 0.21 away from TFLite's.) The result is checked against the
float32 ``.tflite`` on real DS1 beats before it is written. Needs the ``bench`` extra
(onnxruntime, onnx, tf2onnx).
"""

from __future__ import annotations

import tempfile

import click
import numpy as np

from edge_ecg.atomic import write_bytes
from edge_ecg.errors import InputError
from edge_ecg.options import data_dir_option


@click.command()
@click.argument("model", type=click.Path(dir_okay=False, exists=True))
@click.argument("out", type=click.Path(dir_okay=False))
@data_dir_option
def main(model: str, out: str, data_dir) -> None:
    """Write MODEL (.keras) as ONNX to OUT, checked against its float32 TFLite twin."""
    try:
        import onnxruntime as ort
        import tf2onnx
    except ImportError:
        raise InputError("the ONNX export needs: pip install 'edge-ecg[bench]'") from None
    from convert.converter import Options, convert_keras_model
    from convert.export import ExportModel
    from convert.tflite import frozen_function, quiet_converter
    from edge_ecg.interpreter import TFLiteModel
    from edge_ecg.models import KerasModel
    from train.beatset import load_beats

    ds1 = load_beats(data_dir, "DS1")
    with tempfile.TemporaryDirectory() as tmp:
        (tflite,) = convert_keras_model(model, ["float32"], tmp, ds1, Options())
        frozen = frozen_function(ExportModel(KerasModel(model).model, lstm=Options().lstm))
        inputs = [t.name for t in frozen.inputs]
        outputs = [t.name for t in frozen.outputs]
        with quiet_converter():
            proto, _ = tf2onnx.convert.from_graph_def(
                frozen.graph.as_graph_def(), input_names=inputs, output_names=outputs, opset=17
            )
        data = proto.SerializeToString()
        reference = TFLiteModel(tflite.path)
        session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
        names = {len(i.shape): i.name for i in session.get_inputs()}
        pick = np.random.default_rng(0).permutation(len(ds1))[:200]
        worst = 0.0
        for i in pick:
            w, r = ds1.windows[i : i + 1], ds1.rr[i : i + 1]
            (got,) = session.run(None, {names[3]: w, names[2]: r})
            worst = max(worst, float(np.abs(got - reference.predict(w, r)).max()))
    if worst > 1e-4:
        raise InputError(
            f"{model}: the ONNX export differs from TFLite by {worst:.2g}; not written"
        )
    write_bytes(out, data)
    click.echo(f"wrote {out} ({len(data) / 1024:.1f} KB), max |diff| vs float32 TFLite {worst:.1e}")


if __name__ == "__main__":
    main()
