"""Patient-specific trees: EC57's patient-adaptive protocol with every label of the first
5 minutes, not only the normal ones.

EC57 lets a classifier use the reference labels of each test record's first 5 minutes and be
scored on the remaining 25 (Hu et al. 1997; Kiranyaz et al. 2016 train patient-specific
networks this way). The calibrated models (:mod:`.patient_adaptive`) use those labels only to
pick the normal beats a calibration is fitted on. Here each DS2 record gets its own tree,
trained on the DS1 training beats (calibrated, with rhythm features, as the published
calibrated tree) plus that record's own labelled beats of its first 5 minutes, weighted
``WEIGHT`` times (set before any score was read); rounds are chosen on the DS1 hold-out as for
every tree. Nothing after minute 5 of a test record is seen before it is scored.

    python -m train.patient_specific study --data-dir ../shared/data \\
        --json docs/results/patient-specific.json --md docs/results/patient-specific.md
    python -m train.patient_specific network --data-dir ../shared/data \\
        --json docs/results/patient-specific-network.json \\
        --md docs/results/patient-specific-network.md

For a patient (a WFDB record whose first 5 minutes a clinician has labelled), ``fit`` trains
the patient's tree and writes it with the patient's calibration, ready for the device:

    python -m train.patient_specific fit ../shared/data/mitdb/232 --out runs/232
    edge-ecg classify ../shared/data/mitdb/232 --model runs/232/trees.npz \\
        --patient-calibration runs/232/calibration.json
"""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from edge_ecg.cli import EdgeEcgGroup
from edge_ecg.metrics import evaluate_predictions, headline_figures, percent
from edge_ecg.options import data_dir_option, json_option

from .beatset import load_beats
from .config import HOLDOUT
from .gbt import fit_gbt, seed_summary, study_figures, summary_markdown, tree_inputs
from .patient_adaptive import CALIBRATION_SECONDS, calibrate_beats, calibration_stretch
from .study_output import emit_study, md_option
from .trainer import class_weights

#: How much a test record's own labelled beat weighs against a training beat.
WEIGHT = 20.0
SEEDS = (0, 1, 2)
WEIGHT_POWER = 0.5


def study(data_dir, seeds=SEEDS, weight: float = WEIGHT, progress=None) -> dict:
    ds1 = calibrate_beats(load_beats(data_dir, "DS1"))
    ds2 = calibrate_beats(load_beats(data_dir, "DS2"))
    held = np.isin(ds1.records, list(HOLDOUT))
    x1 = tree_inputs(ds1, rhythm=True)
    x_train, y_train = x1[~held], ds1.labels[~held]
    x_hold, y_hold = x1[held], ds1.labels[held]
    x2, y2 = tree_inputs(ds2, rhythm=True), ds2.labels
    own = calibration_stretch(ds2)  # each record's first 5 minutes: labelled, trained on
    runs, per_record = [], {}
    records = list(np.unique(ds2.records))
    for seed in seeds:
        pred = np.full(y2.size, -1)
        for record in progress(records, f"seed {seed}") if progress else records:
            mine = (ds2.records == record) & own
            booster, rounds, _ = fit_gbt(
                np.vstack([x_train, x2[mine]]),
                np.concatenate([y_train, y2[mine]]),
                x_hold,
                y_hold,
                seed,
                WEIGHT_POWER,
                np.concatenate([np.ones(y_train.size), np.full(int(mine.sum()), weight)]),
            )
            later = (ds2.records == record) & ~own
            pred[later] = booster.predict(x2[later], num_iteration=rounds).argmax(1)
        scored = ~own
        metrics = evaluate_predictions(y2[scored], pred[scored], ds2.records[scored])
        runs.append({"seed": seed, **study_figures(metrics)})
        per_record[str(seed)] = {r: m["accuracy"] for r, m in metrics["records"].items()}
    return {
        "protocol": "patient-specific: each DS2 record's first 5 min of labels trained on "
        "(with DS1), scored after",
        "weight": weight,
        "beats_scored": int((~own).sum()),
        "summary": seed_summary(runs),
        "record_accuracy": per_record,
    }


def fit_patient(
    record: str | Path,
    data_dir,
    out: str | Path,
    weight: float = WEIGHT,
    seed: int = 2,
    train_records: list[str] | None = None,
    annotator: str = "atr",
) -> dict:
    """Train ``record``'s own tree (its labelled first 5 minutes, weighted ``weight``, and the
    DS1 training beats, or ``train_records``') and write OUT/trees.npz with its manifest and
    OUT/calibration.json; returns what was written."""
    from edge_ecg.aami import CLASS_INDEX
    from edge_ecg.atomic import write_json
    from edge_ecg.beats import stack_beats
    from edge_ecg.calibration import calibrate, fit_calibration, stretch_beats
    from edge_ecg.datadir import sha256_file
    from edge_ecg.records import read_record
    from edge_ecg.tree_model import KIND

    from .beatset import BeatSet
    from .tree_export import inputs_text, tree_tables, write_trees

    rec = read_record(record, annotator=annotator)
    seconds = CALIBRATION_SECONDS
    beats, index = stretch_beats(rec.signal, rec.fs, rec.beat_samples, seconds)
    windows, rr = stack_beats(beats)
    cal = fit_calibration(windows, rr, rec.beat_classes[index] == CLASS_INDEX["N"])
    windows, rr = calibrate(windows, rr, cal)
    own = BeatSet(windows, rr, rec.beat_classes[index], np.full(len(beats), rec.name),
                  rec.beat_samples[index], {})  # fmt: skip
    ds1 = calibrate_beats(load_beats(data_dir, "DS1"))
    held = np.isin(ds1.records, list(HOLDOUT))
    train = ~held if train_records is None else np.isin(ds1.records, train_records)
    x1 = tree_inputs(ds1, rhythm=True)
    x_own = tree_inputs(own, rhythm=True)
    booster, rounds, holdout_f1 = fit_gbt(
        np.vstack([x1[train], x_own]),
        np.concatenate([ds1.labels[train], own.labels]),
        x1[held],
        ds1.labels[held],
        seed,
        WEIGHT_POWER,
        np.concatenate([np.ones(int(train.sum())), np.full(len(own), weight)]),
    )
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    import lightgbm as lgb

    header = Path(f"{record}.hea")
    kept = lgb.Booster(model_str=booster.model_to_string(num_iteration=rounds))
    write_trees(
        tree_tables(kept),
        out / "trees.npz",
        kind=KIND,
        inputs=inputs_text(rhythm=True),
        calibrated=True,
        rhythm=True,
        rounds=int(rounds),
        patient=rec.name,
        training_data={**ds1.checksums, str(header): sha256_file(header)},
        source={"record": rec.name, "labelled_beats": len(own), "weight": weight, "seed": seed},
        command=f"python -m train.patient_specific fit {record} --out {out}",
    )
    body = {"record": rec.name, "annotator": annotator, "minutes": seconds / 60, **cal.to_dict()}
    write_json(out / "calibration.json", body)
    return {"labelled_beats": len(own), "rounds": int(rounds), "holdout_macro_f1": holdout_f1}


#: Fine-tuning a calibrated network per patient (set before scoring): its labelled beats
#: (``WEIGHT`` each) and a replay of this many DS1 training beats, so it keeps what it knew.
REPLAY, EPOCHS, FINE_TUNE_RATE = 4000, 5, 3e-4
NETWORK = Path(__file__).resolve().parent.parent / "models" / "fusion-calibrated" / "model.keras"


def network_study(data_dir, model: str | Path = NETWORK, seed: int = 0, progress=None) -> dict:
    """The calibrated network (Keras, float) fine-tuned per DS2 record on its labelled first
    5 minutes, against the same network untuned, on the beats after minute 5."""
    import keras

    ds1 = calibrate_beats(load_beats(data_dir, "DS1"))
    ds2 = calibrate_beats(load_beats(data_dir, "DS2"))
    train = ~np.isin(ds1.records, list(HOLDOUT))
    windows, rr, labels = ds1.windows[train], ds1.rr[train], ds1.labels[train]
    weights = class_weights(labels, WEIGHT_POWER)
    own = calibration_stretch(ds2)
    net = keras.saving.load_model(model, safe_mode=True)
    start = net.get_weights()
    rng = np.random.default_rng(seed)
    keras.utils.set_random_seed(seed)
    tuned, untuned = np.full(len(ds2), -1), np.full(len(ds2), -1)
    records = list(np.unique(ds2.records))
    for record in progress(records, "records") if progress else records:
        mine, later = (ds2.records == record) & own, (ds2.records == record) & ~own
        net.set_weights(start)
        x_later = [ds2.windows[later], ds2.rr[later]]
        untuned[later] = net.predict(x_later, batch_size=1024, verbose=0).argmax(1)
        replay = rng.choice(labels.size, REPLAY, replace=False)
        y = np.concatenate([labels[replay], ds2.labels[mine]])
        beat_weight = np.concatenate([np.ones(REPLAY), np.full(int(mine.sum()), WEIGHT)])
        net.compile(optimizer=keras.optimizers.Adam(FINE_TUNE_RATE),
                    loss="sparse_categorical_crossentropy")  # fmt: skip
        x = [np.concatenate([windows[replay], ds2.windows[mine]]),
             np.concatenate([rr[replay], ds2.rr[mine]])]  # fmt: skip
        net.fit(
            x,
            y,
            sample_weight=np.array([weights.get(c, 1.0) for c in y]) * beat_weight,
            batch_size=128,
            epochs=EPOCHS,
            shuffle=True,
            verbose=0,
        )
        tuned[later] = net.predict(x_later, batch_size=1024, verbose=0).argmax(1)
    scored = ~own
    return {
        "model": str(Path(model).name),
        "seed": seed,
        "fine_tune": {
            "weight": WEIGHT,
            "replay": REPLAY,
            "epochs": EPOCHS,
            "learning_rate": FINE_TUNE_RATE,
        },
        "untuned": headline_figures(evaluate_predictions(ds2.labels[scored], untuned[scored])),
        "tuned": headline_figures(evaluate_predictions(ds2.labels[scored], tuned[scored])),
    }


def network_markdown(result: dict) -> str:
    lines = [
        "| calibrated network | accuracy % | macro-F1 % | S Se / +P % | V Se / +P % | F Se % |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name in ("untuned", "tuned"):
        f = result[name]
        lines.append(
            f"| {name} | {percent(f['accuracy'], 2)} | {percent(f['macro_f1'])} | "
            f"{percent(f['S_se'])} / {percent(f['S_ppv'])} | {percent(f['V_se'])} / "
            f"{percent(f['V_ppv'])} | {percent(f['F_se'])} |"
        )
    return "\n".join(lines) + "\n"


def markdown(result: dict) -> str:
    seeds = [r["seed"] for r in result["summary"]["runs"]]
    return summary_markdown(
        {f"patient-specific tree, weight {result['weight']:g}": result["summary"]},
        "protocol",
        seeds,
        beats=f"DS2 beats after each record's minute 5 ({result['beats_scored']})",
    )


@click.group(cls=EdgeEcgGroup, help=__doc__.split("\n\n")[0])
def main() -> None:
    pass


@main.command("study")
@data_dir_option
@json_option("the figures")
@md_option
def study_command(data_dir, json_path: str | None, md_path: str | None) -> None:
    """One tree per DS2 record, three seeds (see the module docstring)."""
    emit_study(study(data_dir), markdown, json_path, md_path)


@main.command("network")
@data_dir_option
@click.option("--model", type=click.Path(dir_okay=False), default=str(NETWORK), show_default=True)
@json_option("the figures")
@md_option
def network_command(data_dir, model: str, json_path: str | None, md_path: str | None) -> None:
    """The calibrated network fine-tuned per DS2 record (see ``network_study``)."""
    emit_study(network_study(data_dir, model), network_markdown, json_path, md_path)


@main.command("fit")
@click.argument("record", type=click.Path(dir_okay=False))
@data_dir_option
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Output folder.")
@click.option(
    "--weight",
    type=click.FloatRange(min=0, min_open=True),
    default=WEIGHT,
    show_default=True,
    help="Weight of each of the patient's labelled beats.",
)
@click.option("--seed", type=int, default=2, show_default=True)
def fit_command(record: str, data_dir, out: str, weight: float, seed: int) -> None:
    """Train RECORD's own tree on its labelled first 5 minutes (and DS1); write OUT/trees.npz
    and OUT/calibration.json for 'edge-ecg classify --model ... --patient-calibration ...'."""
    done = fit_patient(record, data_dir, out, weight, seed)
    click.echo(
        f"{out}/trees.npz: {done['labelled_beats']} labelled beats of the patient, "
        f"{done['rounds']} rounds; {out}/calibration.json"
    )


if __name__ == "__main__":
    main()
