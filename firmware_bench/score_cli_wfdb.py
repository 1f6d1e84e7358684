"""Score what ``edge-ecg detect`` and ``edge-ecg classify --format wfdb`` write, with wfdb's tools.

    python -m firmware_bench.score_cli_wfdb --data-dir ../shared/data --json docs/cli-wfdb.json

For every mitdb record both commands run as a user would run them (through the click CLI,
lead MLII, the first lead where there is none), writing ``<record>.edge`` annotation files.
Those files are read back with ``wfdb.rdann`` and compared with the reference ``.atr`` by
``wfdb.processing.compare_annotations`` (150 ms window, as EC57), so the figures come from
PhysioNet's own reader and matcher rather than from our code. Classify's symbols (N, A, V, F,
Q) are also scored per AAMI class on the matched beats.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import click
import numpy as np
from click.testing import CliRunner

from edge_ecg.aami import CLASS_INDEX, aami_class
from edge_ecg.atomic import write_json
from edge_ecg.datadir import database_dir
from edge_ecg.metrics import evaluate_predictions
from edge_ecg.options import data_dir_option, progress


def _run_cli(args: list[str]) -> None:
    from edge_ecg.cli import cli

    result = CliRunner().invoke(cli, args)
    if result.exit_code != 0:
        raise click.ClickException(f"edge-ecg {' '.join(args)}: {result.output.strip()}")


@click.command()
@data_dir_option
@click.option("--records", default="", help="Comma-separated record names (default: all).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), required=True)
def main(data_dir, records, json_path):
    """Score the WFDB annotation files the CLI writes on every mitdb record."""
    import wfdb
    from wfdb import processing

    db = database_dir(data_dir, "mitdb")
    names = records.split(",") if records else (db / "RECORDS").read_text().split()
    rows, truth, predicted = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name in progress(names, "records"):
            header = wfdb.rdheader(str(db / name))
            lead = "MLII" if "MLII" in header.sig_name else header.sig_name[0]
            ref = wfdb.rdann(str(db / name), "atr")
            keep = [i for i, s in enumerate(ref.symbol) if aami_class(s) is not None]
            ref_samples = np.asarray(ref.sample)[keep]
            ref_classes = np.array([CLASS_INDEX[aami_class(ref.symbol[i])] for i in keep])
            row = {"record": name, "lead": lead, "beats": len(keep)}
            for command in ("detect", "classify"):
                row[command] = {}
                out = Path(tmp) / command
                _run_cli([command, str(db / name), "--lead", lead, "--format", "wfdb",
                          "--out-dir", str(out)])  # fmt: skip
                test = wfdb.rdann(str(out / name), "edge")
                beats = [i for i, s in enumerate(test.symbol) if aami_class(s) is not None]
                row[command]["unreadable_marks"] = len(test.symbol) - len(beats)
                test_samples = np.asarray(test.sample)[beats]
                test_symbols = np.asarray(test.symbol)[beats]
                cmp = processing.compare_annotations(
                    ref_samples, test_samples, round(0.15 * header.fs)
                )
                row[command].update(tp=int(cmp.tp), fn=int(cmp.fn), fp=int(cmp.fp))
                if command == "classify":
                    symbols = test_symbols
                    pairs = cmp.matching_sample_nums  # test index per reference beat, -1 if none
                    hit = pairs >= 0
                    truth += ref_classes[hit].tolist()
                    predicted += [CLASS_INDEX[aami_class(s)] for s in symbols[pairs[hit]]]
            rows.append(row)
    result: dict = {"records": rows}
    for command in ("detect", "classify"):
        tp = sum(r[command]["tp"] for r in rows)
        fn = sum(r[command]["fn"] for r in rows)
        fp = sum(r[command]["fp"] for r in rows)
        result[command] = {
            "tp": tp,
            "fn": fn,
            "fp": fp,
            "se": tp / (tp + fn),
            "ppv": tp / (tp + fp),
        }
    classes = evaluate_predictions(np.array(truth), np.array(predicted))
    result["classify"]["classes_on_matched_beats"] = {
        k: classes[k] for k in ("accuracy", "macro_f1", "beats", "classes")
    }
    write_json(json_path, result)
    for command in ("detect", "classify"):
        g = result[command]
        click.echo(f"{command}: Se {100 * g['se']:.3f} %, +P {100 * g['ppv']:.3f} % "
                   f"(TP {g['tp']}, FN {g['fn']}, FP {g['fp']})")  # fmt: skip


if __name__ == "__main__":
    main()
