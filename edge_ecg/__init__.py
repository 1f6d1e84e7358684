"""edge-ecg: the on-device runtime for ECG beat classification (numpy + a TFLite interpreter).

This package never imports TensorFlow or wfdb at import time.
"""

from .beats import Beat, BeatFeaturizer, extract_beats
from .calibration import Calibration, calibration_of_record, read_calibration
from .classify import ClassifiedBeat, Classifier, StreamClassifier, classify_record
from .detect import PeakDetector, detect_peaks
from .errors import DataError, EdgeEcgError, InputError, ModelError, OutputError
from .leads import TwoLeadDetector, detect_peaks_two_leads
from .preprocess import Cleaner, clean
from .quality import QualityMonitor
from .spec import CLASSES, FS

__all__ = [
    "CLASSES",
    "FS",
    "Beat",
    "BeatFeaturizer",
    "Calibration",
    "ClassifiedBeat",
    "Classifier",
    "Cleaner",
    "DataError",
    "EdgeEcgError",
    "InputError",
    "ModelError",
    "OutputError",
    "PeakDetector",
    "QualityMonitor",
    "StreamClassifier",
    "TwoLeadDetector",
    "calibration_of_record",
    "classify_record",
    "clean",
    "detect_peaks",
    "detect_peaks_two_leads",
    "extract_beats",
    "read_calibration",
]
