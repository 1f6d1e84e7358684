"""Same answers on another CPU: dump the runtime's outputs here, dump them there, compare.

``dump`` runs where only ``edge-ecg[runtime]`` is installed (an emulated or a real Pi): the
shipped int8 model on the bundled MIT-BIH excerpt, (a) end to end (detect, cut, classify),
(b) end to end with two-lead detection, on two leads made from the excerpt by the reference
machine (the first with noisy stretches, so the second lead takes over there), and (c) on beat
inputs computed by the reference machine, so the model is compared on identical inputs.
``compare`` checks the model's int8 outputs agree within ``--steps`` quantization steps and the
end-to-end beats and labels match, and writes a JSON verdict.

    python -m firmware_bench.pi_check dump host.npz
    python -m firmware_bench.pi_check dump pi.npz --inputs host.npz      # on the Pi
    python -m firmware_bench.pi_check compare host.npz pi.npz --json docs/bench/emulated-pi.json
"""

from __future__ import annotations

import io
import json
import platform
import sys
from pathlib import Path

import click
import numpy as np

from edge_ecg.atomic import write_bytes, write_json
from edge_ecg.beats import extract_beats, stack_beats
from edge_ecg.classify import Classifier, classify_record
from edge_ecg.demo import load_excerpt
from edge_ecg.errors import InputError
from edge_ecg.options import json_option
from edge_ecg.spec import CLASSES


def dump(out: Path, inputs: Path | None = None) -> dict:
    """Run the shipped model here; save its outputs (and, without ``inputs``, its inputs)."""
    signal, fs, ref_samples, _ = load_excerpt()
    classifier = Classifier()
    model = classifier.model
    if inputs is None:
        beats, _ = extract_beats(signal, fs, ref_samples)
        windows, rr = stack_beats(beats)
        leads = two_leads(signal, fs)
    else:
        with np.load(inputs, allow_pickle=False) as z:
            windows, rr, leads = z["windows"], z["rr"], z["leads"]
    probs = model.predict(windows, rr)
    found = classify_record(signal, fs, model)
    found2 = classify_record(leads[:, 0], fs, model, second=leads[:, 1])
    arrays = {
        "windows": windows,
        "rr": rr,
        "leads": leads,
        "probs": probs,
        "out_scale": np.float64(model.output_step),
        "e2e_samples": np.array([b.sample for b in found], dtype=np.int64),
        "e2e_labels": np.array([CLASSES.index(b.label) for b in found], dtype=np.int64),
        "e2e2_samples": np.array([b.sample for b in found2], dtype=np.int64),
        "e2e2_labels": np.array([CLASSES.index(b.label) for b in found2], dtype=np.int64),
        "machine": np.array(platform.machine()),
        "litert": np.array(model.backend),  # the interpreter package that ran it
    }
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    write_bytes(out, buf.getvalue())
    return {"beats": len(windows), "machine": platform.machine()}


def two_leads(signal: np.ndarray, fs: float) -> np.ndarray:
    """(n, 2): the excerpt with three 20 s stretches of 5-15 Hz noise (the QRS band, where it
    fools the detector; 0.6 mV, a third of the R amplitude), and a second lead (the excerpt
    inverted and halved, plus hiss) that stays clean there."""
    rng = np.random.default_rng(0)
    first = signal.copy()
    n = int(20 * fs)
    freq = np.fft.rfftfreq(n, 1 / fs)
    band = (freq < 5) | (freq > 15)
    for minute in (1, 2.5, 4):
        spectrum = np.fft.rfft(rng.standard_normal(n))
        spectrum[band] = 0
        noise = np.fft.irfft(spectrum, n)
        at = int(minute * 60 * fs)
        first[at : at + n] += 0.6 * noise / noise.std()
    second = -0.5 * signal + 0.01 * rng.standard_normal(signal.size)
    return np.column_stack([first, second])


def _same_beats(a, b, prefix: str) -> bool:
    return bool(
        np.array_equal(a[f"{prefix}_samples"], b[f"{prefix}_samples"])
        and np.array_equal(a[f"{prefix}_labels"], b[f"{prefix}_labels"])
    )


def compare(reference: Path, other: Path, steps: int = 1) -> dict:
    """Verdict: int8 outputs within ``steps`` steps on identical inputs, same end-to-end beats."""
    with np.load(reference, allow_pickle=False) as a, np.load(other, allow_pickle=False) as b:
        if not (
            np.array_equal(a["windows"], b["windows"]) and np.array_equal(a["leads"], b["leads"])
        ):
            raise InputError(f"{other}: was not run on {reference}'s inputs (use --inputs)")
        scale = float(a["out_scale"])
        step_diff = np.abs(a["probs"].astype(np.float64) - b["probs"]) / scale
        per_beat = np.round(step_diff.max(axis=1)).astype(int)
        max_steps = int(per_beat.max())
        same_class = float(np.mean(a["probs"].argmax(1) == b["probs"].argmax(1)))
        e2e_same = _same_beats(a, b, "e2e")
        e2e2_same = _same_beats(a, b, "e2e2")
        result = {
            "reference_machine": str(a["machine"]),
            "other_machine": str(b["machine"]),
            "reference_backend": str(a["litert"]),
            "other_backend": str(b["litert"]),
            "beats": len(a["probs"]),
            "max_output_diff_steps": max_steps,
            # beats whose largest output difference is 0, 1, 2, ... steps
            "beats_by_diff_steps": np.bincount(per_beat).tolist(),
            "outputs_identical": bool(np.array_equal(a["probs"], b["probs"])),
            "same_class_fraction": same_class,
            "end_to_end_beats": [len(a["e2e_samples"]), len(b["e2e_samples"])],
            "end_to_end_identical": e2e_same,
            "two_leads_end_to_end_beats": [len(a["e2e2_samples"]), len(b["e2e2_samples"])],
            "two_leads_end_to_end_identical": e2e2_same,
            "allowed_steps": steps,
            "passed": bool(max_steps <= steps and e2e_same and e2e2_same),
        }
    return result


@click.group()
def main() -> None:
    """Compare the runtime's int8 outputs across machines (see the module docstring)."""


@main.command("dump")
@click.argument("out", type=click.Path(dir_okay=False))
@click.option("--inputs", type=click.Path(dir_okay=False, exists=True), help="Another dump.")
def dump_command(out: str, inputs: str | None) -> None:
    """Run the shipped model here; write OUT.npz (beat inputs of --inputs if given)."""
    click.echo(json.dumps(dump(Path(out), Path(inputs) if inputs else None)))


@main.command("compare")
@click.argument("reference", type=click.Path(dir_okay=False, exists=True))
@click.argument("other", type=click.Path(dir_okay=False, exists=True))
@click.option("--steps", default=1, show_default=True, help="Largest int8 output difference.")
@json_option("the verdict")
def compare_command(reference: str, other: str, steps: int, json_path: str | None) -> None:
    """Exit 0 when OTHER's outputs match REFERENCE's, 1 when not."""
    result = compare(Path(reference), Path(other), steps)
    if json_path:
        write_json(json_path, result)
    click.echo(json.dumps(result, indent=1))
    sys.exit(0 if result["passed"] else 1)


if __name__ == "__main__":
    main()
