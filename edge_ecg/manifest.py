"""A model's manifest: what it expects, where it came from, and proof the bytes are those.

Every model the toolkit writes gets ``<model>.manifest.json`` beside it. The runtime reads the
manifest before the model and refuses a model whose bytes, input contract or preprocessing
version differ from what this runtime produces: a wrong answer must never look like an answer.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from .atomic import write_json
from .errors import ModelError
from .spec import CHANNELS, CLASSES, FS, N_RR, PREPROCESSING_VERSION, RR_FEATURES, WINDOW

FORMAT = "edge-ecg-model/1"


def manifest_path(model: str | os.PathLike[str]) -> Path:
    """``fusion-int8.tflite`` -> ``fusion-int8.manifest.json``."""
    model = Path(model)
    return model.with_name(model.stem + ".manifest.json")


def manifest_precision(manifest: dict, default: str) -> str:
    """The label of what the converter made: its ``precision``, and ``int8-floatio`` for an
    int8 file with float32 inputs and output (same numbers, a different file)."""
    precision = str(manifest.get("precision", default))
    return "int8-floatio" if precision == "int8" and manifest.get("io") == "float32" else precision


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def input_contract() -> dict:
    """What this runtime feeds a model; a manifest must match it exactly."""
    return {
        "preprocessing_version": PREPROCESSING_VERSION,
        "fs": FS,
        "window": [WINDOW, CHANNELS],
        "rr_features": list(RR_FEATURES),
        "n_rr": N_RR,
        "classes": list(CLASSES),
    }


def write_manifest(model: str | os.PathLike[str], **fields) -> Path:
    """Write the manifest of a model file already on disk (sha256 and size computed here)."""
    model = Path(model)
    data = model.read_bytes()
    body = {
        "format": FORMAT,
        "file": model.name,
        "sha256": sha256_bytes(data),
        "bytes": len(data),
        **input_contract(),
        **fields,
    }
    path = manifest_path(model)
    write_json(path, body)
    return path


def read_manifest(model: str | os.PathLike[str], data: bytes | None = None) -> dict:
    """The verified manifest of ``model``; ``ModelError`` naming the field on any mismatch."""
    model = Path(model)
    path = manifest_path(model)
    if not path.is_file():
        raise ModelError(
            f"{model}: no manifest {path.name} beside it; edge-ecg runs only models written by "
            "edge-ecg convert (re-convert the .keras model)"
        )
    try:
        manifest = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelError(f"{path}: unreadable manifest ({e})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ModelError(f"{path}: not an edge-ecg manifest (format should be {FORMAT})")
    if data is None:
        data = model.read_bytes()
    if manifest.get("sha256") != sha256_bytes(data):
        raise ModelError(
            f"{model}: sha256 differs from its manifest; the file was changed or damaged"
        )
    for key, want in input_contract().items():
        if manifest.get(key) != want:
            raise ModelError(
                f"{path}: {key} is {manifest.get(key)!r} but this runtime gives {want!r}; "
                "the model was made for other inputs (retrain or use a matching edge-ecg)"
            )
    return manifest
