"""edge-ecg: the on-device runtime for ECG beat classification (numpy + a TFLite interpreter).

This package never imports TensorFlow or wfdb at import time.
"""

from .beats import Beat, BeatFeaturizer, extract_beats
from .errors import DataError, EdgeEcgError, InputError, ModelError, OutputError
from .preprocess import Cleaner, clean
from .spec import CLASSES, FS

__all__ = [
    "CLASSES",
    "FS",
    "Beat",
    "BeatFeaturizer",
    "Cleaner",
    "DataError",
    "EdgeEcgError",
    "InputError",
    "ModelError",
    "OutputError",
    "clean",
    "extract_beats",
]
