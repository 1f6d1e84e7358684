"""Would adapting the class priors to each patient, without labels, help a trained model?

A network's outputs carry the class mix it was trained on; a patient's mix differs (most have
no F beat, some thousands of V). Saerens et al. (2002) re-weight the outputs by the ratio of
the new priors to the training ones, p'(c|x) ∝ p(c|x) (π'(c) / π₀(c))^β, and estimate the new
priors from the adjusted outputs themselves (EM), with no label. A device can do this
causally: per record, π' follows the adjusted outputs of the beats so far (an exponential
average over ``window`` beats). π₀ is the model's mean output on the DS1 training beats.
Variants (``VARIANTS``): off; a fixed shift to the DS1 class mix (undoing the class weights
training used), and the causal adaptation, started from either.

The variant is chosen on the DS1 hold-out (best macro-F1 over N, S, V, F, then accuracy);
DS2 is read for every variant only to report, after the choice.

    python -m train.prior_shift --data-dir ../shared/data \\
        --json docs/results/prior-shift.json --md docs/results/prior-shift.md
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import click
import numpy as np

from edge_ecg.cli import EdgeEcgCommand
from edge_ecg.metrics import evaluate_predictions, headline_figures, percent
from edge_ecg.options import data_dir_option, json_option
from edge_ecg.spec import CLASSES

from .beatset import BeatSet, load_beats
from .config import HOLDOUT
from .study_output import emit_study, md_option

#: Priors are kept above this, so a class the adaptation has not seen can come back.
FLOOR = 1e-3


@dataclass(frozen=True)
class Shift:
    """A prior shift: ``beta`` its strength (0: off); ``window`` the causal adaptation's span
    in beats (None: a fixed shift to ``start``); ``start`` the priors it begins from
    ("network": π₀, i.e. no shift; "ds1": the DS1 training class mix)."""

    beta: float = 0.0
    window: int | None = None
    start: str = "network"

    def name(self) -> str:
        if self.beta == 0:
            return "off"
        if self.window is None:
            return f"fixed to DS1 mix, beta {self.beta:g}"
        return f"adaptive from {self.start}, beta {self.beta:g}, window {self.window}"


VARIANTS = (
    Shift(),
    *(Shift(beta, None, "ds1") for beta in (0.25, 0.5, 1.0)),
    *(
        Shift(beta, window, start)
        for start in ("network", "ds1")
        for beta in (0.25, 0.5, 1.0)
        for window in (256, 1024, 4096)
    ),
)


def shift_priors(
    probs: np.ndarray,
    records: np.ndarray,
    samples: np.ndarray,
    base: np.ndarray,
    start: np.ndarray,
    beta: float,
    window: int | None,
) -> np.ndarray:
    """``probs`` re-weighted by (π' / ``base``)^``beta``; π' is ``start`` throughout when
    ``window`` is None, else per record it follows the adjusted outputs of the beats before
    (in ``samples`` order), beginning at ``start``."""
    if beta == 0:
        return probs.copy()
    if window is None:
        out = probs * (start / base) ** beta
        return out / out.sum(1, keepdims=True)
    out = np.empty_like(probs)
    rate = 1.0 / window
    for record in np.unique(records):
        idx = np.flatnonzero(records == record)
        prior = start.copy()
        for i in idx[np.argsort(samples[idx], kind="stable")]:
            q = probs[i] * (prior / base) ** beta
            out[i] = q = q / q.sum()
            prior = np.maximum((1 - rate) * prior + rate * q, FLOOR)
            prior /= prior.sum()
    return out


def class_mix(labels: np.ndarray) -> np.ndarray:
    """The share of each class (CLASSES order) among ``labels``, floored at FLOOR."""
    mix = np.maximum(np.bincount(labels, minlength=len(CLASSES)) / labels.size, FLOOR)
    return mix / mix.sum()


def study(data_dir, model: str | None) -> dict:
    """Every variant on the DS1 training records, the DS1 hold-out and DS2; the one chosen."""
    from edge_ecg.classify import Classifier

    clf = Classifier(model)
    ds1 = load_beats(data_dir, "DS1")
    sets: dict[str, BeatSet] = {
        "ds1_train": ds1.select([r for r in np.unique(ds1.records) if r not in HOLDOUT]),
        "ds1_holdout": ds1.select(list(HOLDOUT)),
        "ds2": load_beats(data_dir, "DS2"),
    }
    probs = {name: clf.predict(b.windows, b.rr) for name, b in sets.items()}
    base = probs["ds1_train"].mean(0)
    starts = {"network": base, "ds1": class_mix(sets["ds1_train"].labels)}
    rows = []
    for shift in VARIANTS:
        row: dict = {"variant": shift.name(), **asdict(shift)}
        for name, b in sets.items():
            p = shift_priors(probs[name], b.records, b.samples, base, starts[shift.start],
                             shift.beta, shift.window)  # fmt: skip
            row[name] = headline_figures(evaluate_predictions(b.labels, p.argmax(1)))
        rows.append(row)
    best = max(rows, key=lambda r: (r["ds1_holdout"]["macro_f1"], r["ds1_holdout"]["accuracy"]))
    return {
        "model": model or "shipped",
        "network_prior": dict(zip(CLASSES, base.round(4).tolist(), strict=True)),
        "ds1_mix": dict(zip(CLASSES, starts["ds1"].round(4).tolist(), strict=True)),
        "rows": rows,
        "chosen": best["variant"],
    }


def markdown(result: dict) -> str:
    lines = [
        f"Model: {result['model']}; chosen on the DS1 hold-out: **{result['chosen']}**.",
        "",
        "| prior shift | hold-out macro-F1 % | hold-out acc. % | DS2 acc. % | DS2 macro-F1 % | "
        "S Se % | S +P % | V Se % | V +P % |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        h, d = r["ds1_holdout"], r["ds2"]
        cells = [percent(h["macro_f1"], 1), percent(h["accuracy"], 2), percent(d["accuracy"], 2),
                 percent(d["macro_f1"], 1)] + [percent(d[k], 1)
                 for k in ("S_se", "S_ppv", "V_se", "V_ppv")]  # fmt: skip
        lines.append(f"| {r['variant']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


@click.command(cls=EdgeEcgCommand, help=__doc__.split("\n\n")[0])
@data_dir_option
@click.option("--model", type=click.Path(dir_okay=False), help="[default: the shipped model]")
@json_option("the figures")
@md_option
def main(data_dir, model: str | None, json_path: str | None, md_path: str | None) -> None:
    emit_study(study(data_dir, model), markdown, json_path, md_path)


if __name__ == "__main__":
    main()
