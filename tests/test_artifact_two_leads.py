"""The two-lead artefact check: trained on what the stream's stage scores, and the stage
emulated in training keeps exactly the beats the stream keeps."""

from __future__ import annotations

import numpy as np
import pytest

from edge_ecg.artifact import ArtifactCheck
from edge_ecg.beat_summary import N_SUMMARY
from edge_ecg.classify import classify_record
from edge_ecg.records import read_record, read_second_lead

pytestmark = pytest.mark.data


def test_training_options_are_what_the_stream_scores(data_dir):
    """NSTDB 118e00, minutes 4-10: one option per reported peak, two where it has a rival,
    86 numbers each; the study's batch emulation of the stage with the bundled check keeps the
    same beats, at the same samples, as the stream."""
    from train.artifact_check_two_leads import _artefact, _stage, options

    path = data_dir / "nstdb" / "118e00"
    rec = read_record(path)
    span = slice(round(240 * rec.fs), round(600 * rec.fs))
    first, second = rec.signal[span], read_second_lead(path, rec).signal[span]
    rows = options(first, second, rec.fs)
    assert {len(r) for r in rows} <= {0, 1, 2} and sum(len(r) == 2 for r in rows) >= 10
    z = np.stack([x for row in rows for _, x in row])
    assert z.shape[1] == 2 * N_SUMMARY and np.isfinite(z).all()
    check = ArtifactCheck(leads=2)
    kept = _stage(rows, check.probability_of(z), check.threshold)
    stream = classify_record(first, rec.fs, second=second, artifact_check=True)
    assert kept == [b.sample for b in stream]
    # labels: an option is an artefact when no reference beat is within 150 ms
    ref = rec.beat_samples - span.start
    samples = [s for row in rows for s, _ in row]
    y = _artefact(samples, ref[(ref >= 0) & (ref < first.size)], rec.fs)
    assert 0.05 < y.mean() < 0.6  # 0 dB: many artefacts, mostly beats
