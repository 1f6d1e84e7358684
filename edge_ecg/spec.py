"""The model's input contract, shared by training, conversion and the device.

Anything that changes what a model sees must bump ``PREPROCESSING_VERSION`` so that a model
trained on the old inputs is refused by the runtime instead of answering silently wrong.
"""

from __future__ import annotations

PREPROCESSING_VERSION = "2"

#: Sampling rate of the cleaned signal that the detector and the model see (Hz).
FS = 180
#: Beat window around the R-peak, in samples at ``FS``: 267 ms before, 444 ms after.
PRE = 48
POST = 80
WINDOW = PRE + POST
#: Channels of the beat window: the beat itself and the beat minus the running median beat.
CHANNELS = 2

#: AAMI EC57 classes in model output order.
CLASSES = ("N", "S", "V", "F", "Q")

#: Names of the RR-interval features, in model input order.
RR_FEATURES = (
    "pre_rr",
    "post_rr",
    "local_rr",
    "long_rr",
    "mean_rr",
    "pre_over_long",
    "post_over_long",
    "local_over_long",
    "pre_over_post",
    "pre_over_mean",
    "post_over_mean",
)
N_RR = len(RR_FEATURES)

#: Lowest input sampling rate we accept: below it the QRS complex is not resolved.
MIN_FS = 100.0
#: Above this a rate is a mistake (no ECG is sampled faster; the filters grow with it).
MAX_FS = 20_000.0
