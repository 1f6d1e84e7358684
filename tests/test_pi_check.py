"""firmware_bench.pi_check: the cross-machine output check the emulated Pi uses."""

from __future__ import annotations

import json

import numpy as np
from click.testing import CliRunner

from firmware_bench.pi_check import main


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_same_machine_passes_and_a_damaged_dump_fails(tmp_path):
    host, again = tmp_path / "host.npz", tmp_path / "again.npz"
    assert run("dump", host).exit_code == 0
    assert run("dump", again, "--inputs", host).exit_code == 0
    r = run("compare", host, again, "--json", tmp_path / "v.json")
    assert r.exit_code == 0, r.output
    verdict = json.loads((tmp_path / "v.json").read_text())
    assert verdict["passed"] and verdict["outputs_identical"] and verdict["beats"] > 500
    assert verdict["end_to_end_identical"] and verdict["same_class_fraction"] == 1.0
    assert verdict["two_leads_end_to_end_identical"]

    # outputs two steps away on one beat: the check must notice
    with np.load(again) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["probs"][10, 0] += 2 * float(arrays["out_scale"])
    np.savez(tmp_path / "off.npz", **arrays)
    r = run("compare", host, tmp_path / "off.npz")
    assert r.exit_code == 1
    off = json.loads(r.output)
    assert off["max_output_diff_steps"] == 2
    assert off["beats_by_diff_steps"] == [verdict["beats"] - 1, 0, 1]


def test_out_scale_is_the_grid_the_shipped_probabilities_lie_on(tmp_path):
    """The float-I/O int8 file hides its integer output; the step the check counts in must
    still be the one its probabilities move in (TFLite's int8 softmax: 1/256)."""
    dump = tmp_path / "host.npz"
    assert run("dump", dump).exit_code == 0
    with np.load(dump) as z:
        probs, step = z["probs"], float(z["out_scale"])
    assert step > 0
    steps = probs / step
    assert np.array_equal(steps, np.round(steps))
    assert len(np.unique(steps)) > 50  # many steps in use: not a coarser grid by accident


def test_the_two_lead_check_exercises_the_second_lead(tmp_path):
    """The noisy stretches fool the first lead, and the second lead changes the beats found
    there: the check runs the lead-switching code, not just the first lead."""
    from edge_ecg.classify import classify_record
    from edge_ecg.demo import load_excerpt
    from edge_ecg.scoring import detection_scores
    from firmware_bench.pi_check import two_leads

    signal, fs, ref, _ = load_excerpt()
    leads = two_leads(signal, fs)
    one = [b.sample for b in classify_record(leads[:, 0], fs)]
    two = [b.sample for b in classify_record(leads[:, 0], fs, second=leads[:, 1])]
    s1, s2 = (detection_scores(ref, np.array(x), fs) for x in (one, two))
    assert s1["fp"] + s1["fn"] > 20
    assert two != one and s2["fp"] + s2["fn"] < s1["fp"] + s1["fn"]

    host = tmp_path / "host.npz"
    assert run("dump", host).exit_code == 0
    with np.load(host) as z:
        arrays = {k: z[k] for k in z.files}
    assert arrays["e2e2_samples"].tolist() == two
    arrays["e2e2_samples"] = arrays["e2e2_samples"][1:]
    arrays["e2e2_labels"] = arrays["e2e2_labels"][1:]
    np.savez(tmp_path / "off.npz", **arrays)
    r = run("compare", host, tmp_path / "off.npz")
    assert r.exit_code == 1 and not json.loads(r.output)["two_leads_end_to_end_identical"]
