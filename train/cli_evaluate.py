"""``edge-ecg evaluate``: EC57 metrics of any model on a split of unseen patients."""

from __future__ import annotations

import click

from edge_ecg.atomic import write_json
from edge_ecg.metrics import evaluate_predictions, markdown_summary
from edge_ecg.options import data_dir_option, json_option, progress


@click.command()
@click.option(
    "--model",
    "model_path",
    type=click.Path(dir_okay=False),
    help="A .tflite or .keras model (default: the int8 model shipped with edge-ecg).",
)
@data_dir_option
@click.option(
    "--split",
    type=click.Choice(["DS1", "DS2", "ALL"], case_sensitive=False),
    default="DS2",
    show_default=True,
    help="Records to score: DS2 is the unseen-patient test set.",
)
@click.option(
    "--end-to-end",
    is_flag=True,
    help="Find the beats with edge-ecg's own R-peak detector instead of the reference "
    "annotations, as the device does; adds a 'detection' block.",
)
@click.option(
    "--two-leads",
    is_flag=True,
    help="With --end-to-end: the detector reads each record's second lead too (as "
    "'edge-ecg classify --two-leads' does); classification stays on MLII.",
)
@click.option(
    "--rhythm-rule",
    is_flag=True,
    help="Score the labels 'edge-ecg classify --rhythm-rule' gives: S becomes N where the RR "
    "intervals before the beat are irregular.",
)
@click.option(
    "--artifact-check",
    is_flag=True,
    help="With --end-to-end: drop detected beats the bundled artefact check takes for noise "
    "(as 'edge-ecg classify --artifact-check' does).",
)
@click.option("--threads", type=click.IntRange(1, 64), default=1, show_default=True)
@json_option("the metrics (evaluate layout)")
def evaluate(
    model_path,
    data_dir,
    split,
    end_to_end,
    two_leads,
    rhythm_rule,
    artifact_check,
    threads,
    json_path,
) -> None:
    """Score a model on MIT-BIH with the ANSI/AAMI EC57 metrics.

    \b
    Accuracy; per class (N S V F Q) sensitivity Se, positive predictivity +P, F1, specificity
    and support; the 5x5 confusion matrix (rows reference, columns predicted); a per-record
    table. By default beats are cut at the reference R-peaks; --end-to-end detects them.

    \b
    A model trained with 'calibrated: true' is scored the patient-adaptive way (EC57): each
    record calibrated on the reference N beats of its first 5 minutes, scored after them
    (the JSON then has "protocol").

    \b
    JSON layout: {"accuracy", "macro_f1", "classes": {"N": {"se", "ppv", "f1", "spec",
    "support"}, ...}, "labels", "confusion", "records": {...}}; rates are fractions, null when
    a class has no support.

    \b
    Examples:
      edge-ecg evaluate --data-dir ../shared/data --split DS2 --json out.json
      edge-ecg evaluate --model runs/fusion-s0/model.keras --json -
      edge-ecg evaluate --end-to-end --split DS2 --json e2e.json
      edge-ecg evaluate --end-to-end --two-leads --split DS2 --json e2e-two-leads.json
      edge-ecg evaluate --rhythm-rule --split DS2 --json rule.json
    """
    from edge_ecg.errors import InputError
    from edge_ecg.models import load_model, model_patient

    if two_leads and not end_to_end:
        raise InputError("--two-leads helps the detector: use it with --end-to-end")
    if artifact_check and not end_to_end:
        raise InputError("--artifact-check acts on detected beats: use it with --end-to-end")

    model = load_model(model_path, threads=threads, calibrated=None)
    patient = model_patient(model)
    if patient is not None:
        raise InputError(
            f"{model_path}: patient {patient}'s own model; evaluate scores every record of a "
            "split with one model (patient-specific figures: python -m train.patient_specific)"
        )
    if end_to_end:
        from .end_to_end import evaluate_end_to_end

        result = evaluate_end_to_end(
            model,
            data_dir,
            split.upper(),
            progress,
            two_leads=two_leads,
            rhythm_rule=rhythm_rule,
            artifact_check=artifact_check,
        )
    else:
        from .patient_adaptive import beats_for

        beats, rhythm = beats_for(model, data_dir, split.upper(), progress, rhythm=rhythm_rule)
        reads_rhythm = getattr(model, "rhythm", False)
        args = (beats.windows, beats.rr) + ((rhythm,) if reads_rhythm else ())
        pred = model.predict(*args).argmax(1)
        if rhythm_rule:
            from edge_ecg.rhythm import HISTORY, RHYTHM_FEATURES
            from edge_ecg.rhythm import rhythm_rule as apply_rule

            # over whole records: a scored beat's history reaches into the calibration stretch
            irregular = rhythm[:, RHYTHM_FEATURES.index(f"irregularity_{HISTORY}")]
            pred = apply_rule(pred, irregular)
        result = evaluate_predictions(beats.labels, pred, beats.records)
    if model.calibrated:
        from .patient_adaptive import PROTOCOL

        result["protocol"] = PROTOCOL
    if rhythm_rule:
        result["rhythm_rule"] = True
    if artifact_check:
        result["artifact_check"] = True
    result["model"] = {"path": str(model.path), "precision": getattr(model, "precision", None)}
    result["split"] = split.upper()
    if json_path:
        write_json(json_path, result)
    click.echo(markdown_summary(result), err=json_path == "-")
