"""LightGBM boosters as node tables for the runtime's numpy walk (``edge_ecg.trees``).

python -m train.tree_export runs/adaptive/gbt-cal-s0 --out models/gbt-calibrated/trees.npz
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np

from edge_ecg.atomic import atomic_path
from edge_ecg.cli import EdgeEcgCommand
from edge_ecg.manifest import write_manifest
from edge_ecg.spec import CLASSES
from edge_ecg.tree_model import KIND


def tree_tables(booster) -> dict[str, np.ndarray]:
    """The booster as padded node tables (one row a tree): a leaf points to itself, so every
    row can walk every tree ``depth`` steps at once."""
    trees = booster.dump_model()["tree_info"]
    flat = [_flatten(t["tree_structure"]) for t in trees]
    width = max(len(nodes) for nodes, _ in flat)
    shape = (len(flat), width)
    out = {
        "feature": np.zeros(shape, np.int16),
        "threshold": np.zeros(shape, np.float64),
        "left": np.zeros(shape, np.int16),
        "right": np.zeros(shape, np.int16),
        "value": np.zeros(shape, np.float64),
    }
    for t, (nodes, _) in enumerate(flat):
        for k, node in enumerate(nodes):
            for key in out:
                out[key][t, k] = node[key]
    out["depth"] = np.array(max(depth for _, depth in flat), np.int16)
    return out


def _flatten(root: dict) -> tuple[list[dict], int]:
    """Nodes in depth-first order (index = position) and the tree's depth."""
    nodes: list[dict] = []

    def visit(node: dict, depth: int) -> tuple[int, int]:
        k = len(nodes)
        if "leaf_value" in node:
            nodes.append({"feature": 0, "threshold": 0.0, "left": k, "right": k,
                          "value": node["leaf_value"]})  # fmt: skip
            return k, depth
        if node.get("decision_type") != "<=" or node.get("missing_type") not in ("None", None):
            raise ValueError(f"trees: unsupported split {node.get('decision_type')}")
        nodes.append({"feature": node["split_feature"], "threshold": node["threshold"],
                      "left": -1, "right": -1, "value": 0.0})  # fmt: skip
        left, d_left = visit(node["left_child"], depth + 1)
        right, d_right = visit(node["right_child"], depth + 1)
        nodes[k]["left"], nodes[k]["right"] = left, right
        return k, max(d_left, d_right)

    _, depth = visit(root, 0)
    return nodes, depth


def inputs_text(rhythm: bool) -> str:
    """What a beat classifier's trees read, for its manifest."""
    rows = "edge_ecg.beat_summary (43 numbers a beat)"
    return rows + (", then edge_ecg.rhythm.RHYTHM_FEATURES (4)" if rhythm else "")


def write_trees(tables: dict[str, np.ndarray], out: str | Path, **manifest) -> Path:
    """The tables as an ``.npz`` (atomically) and its manifest beside it."""
    with atomic_path(out) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, **tables)
    return write_manifest(
        out, precision="float64", trees=int(tables["feature"].shape[0]), **manifest
    )


@click.command(cls=EdgeEcgCommand)
@click.argument("run_dir", type=click.Path(file_okay=False, exists=True))
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="The .npz to write.")
def main(run_dir: str, out: str) -> None:
    """Export a tree run (RUN_DIR/model.txt) for the runtime: edge-ecg classify --model OUT."""
    import lightgbm as lgb

    run = Path(run_dir)
    config = json.loads((run / "config.json").read_text())
    booster = lgb.Booster(model_file=str(run / "model.txt"))
    if booster.num_model_per_iteration() != len(CLASSES):
        raise click.UsageError(f"{run}: not a 5-class tree run")
    history = json.loads((run / "history.json").read_text())
    write_trees(
        tree_tables(booster),
        out,
        kind=KIND,
        inputs=inputs_text(bool(config.get("rhythm_features"))),
        calibrated=bool(config.get("calibrated")),
        rhythm=bool(config.get("rhythm_features")),
        rounds=int(history["rounds"]),
        training_data=json.loads((run / "checksums.json").read_text()),
        source={"run": str(run), "seed": config.get("seed")},
        command=f"python -m train.tree_export {run} --out {out}",
    )
    click.echo(f"{out}: {booster.num_trees()} trees ({history['rounds']} rounds)", err=True)


if __name__ == "__main__":
    main()
