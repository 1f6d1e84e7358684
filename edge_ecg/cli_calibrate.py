"""``edge-ecg calibrate``: a patient calibration from a record's confirmed beats."""

from __future__ import annotations

import click

from .aami import CLASS_INDEX
from .atomic import write_json
from .calibration import CALIBRATION_SECONDS, calibration_of_record
from .errors import InputError
from .options import json_option
from .records import read_record


@click.command()
@click.argument("record", type=click.Path(dir_okay=False))
@click.option(
    "--annotator",
    default="atr",
    show_default=True,
    help="Annotation file (extension) whose beats are confirmed: its N-class beats are the "
    "patient's normal ones.",
)
@click.option(
    "--minutes",
    type=click.FloatRange(1, 30),
    default=CALIBRATION_SECONDS / 60,
    show_default=True,
    help="Length of the calibration stretch from the start (EC57 allows 5).",
)
@click.option("--lead", default="MLII", show_default=True, help="Lead (WFDB signal name).")
@json_option("the calibration (required)")
def calibrate(record, annotator, minutes, lead, json_path) -> None:
    """Fit a patient calibration on the confirmed beats of a record's first minutes.

    \b
    A model trained with 'calibrated: true' sees each beat relative to the patient's own
    normal beats instead of running statistics of all beats: where ectopic beats are the
    majority this is what finds them (docs/results.md, patient-adaptive). The calibration
    is the median normal beat and two RR scale factors; pass it to 'edge-ecg classify
    --patient-calibration FILE' with such a model.

    \b
    Example:
      edge-ecg calibrate ../shared/data/mitdb/232 --json 232-cal.json
      edge-ecg classify ../shared/data/mitdb/232 --patient-calibration 232-cal.json \\
          --model models/gbt-calibrated/trees-rhythm.npz
    """
    if not json_path:
        raise InputError("--json PATH: where the calibration goes ('-' for stdout)")
    rec = read_record(record, lead=lead, annotator=annotator)
    normal = rec.beat_classes == CLASS_INDEX["N"]
    try:
        cal = calibration_of_record(rec.signal, rec.fs, rec.beat_samples, normal, minutes * 60)
    except InputError as e:
        raise InputError(f"record {rec.name}: {e}") from None
    write_json(json_path, cal.document(rec.name, annotator, minutes))
    click.echo(
        f"{rec.name}: calibrated on {cal.beats} normal beats of the first {minutes:g} min; "
        f"RR scale {cal.long_factor:.2f} (median), {cal.mean_factor:.2f} (mean)",
        err=True,
    )
