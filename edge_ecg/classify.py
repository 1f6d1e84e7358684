"""Raw ECG in, classified beats out: the device pipeline, streaming or on a whole signal.

``StreamClassifier.push(samples)`` runs clean -> detect -> featurize -> classify on whatever
arrived and returns the beats that are final; memory stays bounded however long the stream
runs. ``classify_record`` is the same object fed one block, so batch and stream agree beat for
beat (every stage is chunk-invariant). With ``leads=2`` the stream takes (n, 2) blocks: the
first column is classified, and both find the beats (``leads.TwoLeadDetector``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from .artifact import ArtifactCheck
from .artifact_stage import ArtifactStage
from .beats import MAX_RR, Beat, BeatFeaturizer, stack_beats
from .calibration import Calibration, calibrate, check_calibrated, check_patient
from .detect import PeakDetector, end_padding
from .errors import InputError
from .leads import TwoLeadDetector
from .models import BeatModel, load_model, model_patient
from .preprocess import Cleaner, check_signal
from .quality import QualityMonitor, Segment
from .rhythm import rhythm_rule as rhythm_rule_of
from .spec import CLASSES, FS, POST, PRE, WINDOW


@dataclass(frozen=True)
class ClassifiedBeat:
    """One beat as the device reports it."""

    sample: int  # R-peak, index into the input signal
    time: float  # seconds from the start of the input
    label: str  # AAMI class: N, S, V, F or Q
    probabilities: np.ndarray  # (5,) in CLASSES order

    def as_dict(self) -> dict:
        return {
            "sample": self.sample,
            "time": round(self.time, 4),
            "label": self.label,
            "probabilities": [round(float(p), 4) for p in self.probabilities],
        }


class Classifier:
    """Classify beat windows with a model (default: the shipped int8 model)."""

    def __init__(
        self,
        model: BeatModel | str | os.PathLike[str] | None = None,
        threads: int = 1,
        calibration: Calibration | None = None,
    ) -> None:
        """``calibration``: the patient's (:mod:`.calibration`); the model must have been
        trained on calibrated inputs then, and must not otherwise."""
        calibrated = calibration is not None
        if hasattr(model, "predict"):
            check_calibrated("model", bool(getattr(model, "calibrated", False)), calibrated)
            self.model = model
        else:
            self.model = load_model(model, threads=threads, calibrated=calibrated)
        check_patient(getattr(self.model, "path", "model"), model_patient(self.model), calibration)
        self.calibration = calibration

    @property
    def needs_rhythm(self) -> bool:
        """The model reads each beat's rhythm features (a tree model trained with them)."""
        return bool(getattr(self.model, "rhythm", False))

    def predict(
        self, windows: np.ndarray, rr: np.ndarray, rhythm: np.ndarray | None = None
    ) -> np.ndarray:
        """Class probabilities (n, 5) of featurized beats (calibrated here if the patient is);
        ``rhythm`` (n, 4) for a model that reads it."""
        if self.calibration is not None:
            windows, rr = calibrate(windows, rr, self.calibration)
        if self.needs_rhythm:
            return self.model.predict(windows, rr, rhythm)
        return self.model.predict(windows, rr)

    def classify(
        self, beats: list[Beat], fs: float, rhythm_rule: bool = False
    ) -> list[ClassifiedBeat]:
        """Classify featurized beats of a signal sampled at ``fs``; with ``rhythm_rule`` a beat
        called S in irregular rhythm is reported N (:mod:`.rhythm`; its probabilities stay the
        model's). The beats must then carry their ``irregularity``."""
        if not beats:
            return []
        windows, rr = stack_beats(beats)
        rhythm = None
        if self.needs_rhythm:
            if any(b.rhythm is None for b in beats):
                raise ValueError("this model reads rhythm features: featurize with rhythm=True")
            rhythm = np.stack([b.rhythm for b in beats])
        probs = self.predict(windows, rr, rhythm)
        labels = probs.argmax(1)
        if rhythm_rule:
            if any(b.irregularity is None for b in beats):
                raise ValueError("rhythm_rule: featurize the beats with rhythm=True")
            labels = rhythm_rule_of(labels, np.array([b.irregularity for b in beats]))
        return [
            ClassifiedBeat(b.sample, b.sample / fs, CLASSES[int(k)], p)
            for b, k, p in zip(beats, labels, probs, strict=True)
        ]


class StreamClassifier:
    """Streaming detect + classify; ``push`` returns the beats finalised so far.

    Beats come out at most ``latency_seconds`` after their R-peak entered the stream. Beats
    whose window touches unreadable input (see :mod:`.quality`) are not reported; the
    unreadable stretches themselves come from ``take_segments()``.

    ``leads=2``: ``push`` takes (n, 2) blocks, the lead to classify first and a second lead
    that helps find the beats where the first is noisy or silent (``leads.TwoLeadDetector``);
    quality is judged on the first lead, the one classified. With ``find_only`` (beats found,
    not classified: ``edge-ecg detect``) a stretch is unreadable only where both leads are, so
    the second lead's beats come through where the first lead is off.

    ``rhythm_rule``: a beat called S where the RR intervals before it are irregular is reported
    N (:mod:`.rhythm`), as AAMI labels beats in atrial fibrillation.

    ``artifact_check``: detected beats that trained trees take for noise artefacts are not
    reported (:mod:`.artifact`; True loads the bundled check).

    ``calibration``: the patient's normal beats, confirmed once (:mod:`.calibration`), anchor
    the model inputs; only for a model trained that way (``calibrated: true``).
    """

    def __init__(
        self,
        fs: float,
        model: BeatModel | str | os.PathLike[str] | None = None,
        threads: int = 1,
        classifier: Classifier | None = None,
        leads: int = 1,
        find_only: bool = False,
        rhythm_rule: bool = False,
        artifact_check: bool | ArtifactCheck = False,
        calibration: Calibration | None = None,
    ) -> None:
        if leads not in (1, 2):
            raise InputError(f"leads: {leads}; the stream takes one lead, or two")
        self.leads = leads
        self._judge_both = find_only and leads == 2
        self.cleaner = Cleaner(fs)
        self.fs = self.cleaner.fs
        self._second = Cleaner(fs) if leads == 2 else None
        self._clean_second = np.empty(0)  # the second lead's newest cleaned block
        # The detector starts where the input does: the cleaned signal's first samples are the
        # filters' start-up, before any input, and hold no beats (as in ``detect_peaks``).
        start = int(np.ceil(self.cleaner.to_clean_index(0)))
        if artifact_check is True:
            artifact_check = ArtifactCheck(leads=leads)
        if artifact_check and artifact_check.leads > leads:
            raise InputError(
                f"artifact check {artifact_check.path.name}: trained on two leads; the stream "
                "has one (give --two-leads, or use the one-lead check)"
            )
        self.artifact_check = artifact_check or None
        # With the check, two leads also name each lone beat's rival in the other lead.
        self.detector = (
            TwoLeadDetector(start, rivals=self.artifact_check is not None)
            if leads == 2
            else PeakDetector(start)
        )
        self.rhythm_rule = rhythm_rule
        # With the artefact check the peaks go through its stage first (:mod:`.artifact_stage`)
        # and only those it keeps reach the featurizer whose beats are classified: an artefact
        # never shortens its neighbours' RR intervals nor enters the patient's running
        # statistics. That costs up to one more MAX_RR of latency.
        lag = self.detector.latency_seconds
        self._stage = None
        if self.artifact_check:
            self._stage = ArtifactStage(
                self.artifact_check, self.cleaner.to_input_index, lag, rivals=leads == 2
            )
            lag += MAX_RR + 1.0
        self.classifier = classifier or Classifier(model, threads, calibration)
        rhythm = rhythm_rule or bool(getattr(self.classifier, "needs_rhythm", False))
        self.featurizer = BeatFeaturizer(self.cleaner.to_input_index, max_lag=lag, rhythm=rhythm)
        self.quality = QualityMonitor(self.fs, leads=2 if self._judge_both else 1)
        self.samples = 0
        self._last: tuple[float, float | None] | None = None  # the newest sample of each lead
        self._cleaned = 0  # cleaned samples handed to the featurizer
        # A beat is kept only if no sample of its window lies in unreadable input.
        self._pre = PRE * self.fs / FS
        self._post = POST * self.fs / FS
        self._held: list = []  # featurized beats whose window is not judged yet
        self._bad: list[Segment] = []  # unreadable segments that may still hold held beats
        self._closed: list[Segment] = []  # closed segments not yet taken by the caller

    @property
    def latency_seconds(self) -> float:
        """Longest delay from an R-peak entering the stream to its beat coming out."""
        return (
            self.cleaner.delay_seconds
            + self.detector.latency_seconds
            + (WINDOW - 48) / FS  # the window must be complete after the peak
            + MAX_RR * (2 if self._stage else 1)  # waiting for the next peak (post-RR)
        )

    def push(self, samples: np.ndarray) -> list[ClassifiedBeat]:
        """Add raw samples ((n,), or (n, 2) with ``leads=2``); return the beats now final."""
        samples, second = _split_leads(samples, self.leads)
        self.samples += samples.size
        if samples.size:
            self._last = (float(samples[-1]), None if second is None else float(second[-1]))
        judged = np.column_stack([samples, second]) if self._judge_both else samples
        self._note(self.quality.push(judged))
        clean, peaks = self._detect(samples, second)
        self._cleaned += clean.size
        self._held += self._featurize(clean, peaks, self.detector.watermark)
        return self._release(self.quality.judged_until)

    def _detect(self, samples: np.ndarray, second: np.ndarray | None) -> tuple[np.ndarray, list]:
        """Clean the lead to classify (and the second lead, kept in ``_clean_second`` for a
        two-lead artefact check) and find the R-peaks in them."""
        clean = self.cleaner.push(samples)
        if self._second is None:
            return clean, self.detector.push(clean)
        self._clean_second = self._second.push(second)
        return clean, self.detector.push(clean, self._clean_second)

    def flush(self) -> list[ClassifiedBeat]:
        """End of stream: the beats still pending whose window fits.

        The filters lag the input by ``cleaner.delay_seconds``, so the input's end is extended
        with its last value for that delay and the detector's look-ahead, as ``detect_peaks``
        does: the beats of the last second are found. Windows still end at the last real
        sample: the featurizer never gets the cleaned signal past it."""
        self._note(self.quality.flush())
        if self._last is not None:
            tail = end_padding(self.cleaner)
            first, second = (None if v is None else np.full(tail, v) for v in self._last)
            clean, peaks = self._detect(first, second)
            end = int(np.floor(self.cleaner.to_clean_index(self.samples - 1))) + 1
            real = clean[: max(0, end - self._cleaned)]
            if self._second is not None:
                self._clean_second = self._clean_second[: real.size]
            self._cleaned += real.size
            self._last = None
            self._held += self._featurize(real, peaks, self.detector.watermark)
        peaks = self.detector.flush()
        self._held += self._featurize(np.empty(0), peaks, None)
        self._held += self._featurize(None, [], None)
        return self._release(None)

    def _featurize(self, clean: np.ndarray | None, peaks, watermark: int | None) -> list[Beat]:
        """Beats now final; ``clean`` None flushes. With the artefact check the peaks go
        through its stage first and only those it keeps reach the featurizer."""
        if self._stage is None:
            if clean is None:
                return self.featurizer.flush()
            return self.featurizer.push(clean, peaks, watermark)
        if clean is None:
            kept = self._stage.flush()
            return self.featurizer.push(np.empty(0), kept, None) + self.featurizer.flush()
        rivals = getattr(self.detector, "rivals", None) if len(peaks) else None
        second = self._clean_second[: clean.size] if self._second is not None else None
        kept, promise = self._stage.push(clean, peaks, rivals, watermark, second)
        return self.featurizer.push(clean, kept, promise)

    def take_segments(self) -> list[Segment]:
        """Unreadable stretches closed since the last call (input samples, with a reason)."""
        out, self._closed = self._closed, []
        return out

    def _note(self, closed: list[Segment]) -> None:
        self._bad += closed
        self._closed += closed

    def _release(self, judged: int | None) -> list[ClassifiedBeat]:
        """Classify held beats whose window is judged, dropping those touching unreadable input."""
        open_segment = self.quality.current()
        bad = self._bad + ([open_segment] if open_segment else [])
        ready, keep = [], []
        for beat in self._held:
            if judged is not None and beat.sample + self._post >= judged:
                keep.append(beat)
            elif not any(
                beat.sample - self._pre < s.end and beat.sample + self._post > s.start for s in bad
            ):
                ready.append(beat)
        self._held = keep
        # Beats not featurized yet have R-peaks less than latency_seconds old.
        frontier = self.samples - (self.latency_seconds + 1.0) * self.fs
        horizon = min([b.sample for b in keep] + [frontier])
        self._bad = [s for s in self._bad if s.end + self._pre > horizon]
        return self.classifier.classify(ready, self.fs, self.rhythm_rule)


def _split_leads(samples: np.ndarray, leads: int) -> tuple[np.ndarray, np.ndarray | None]:
    """The lead to classify and the second lead (None for one lead), checked."""
    if leads == 1:
        return check_signal(samples, "stream"), None
    arr = np.asarray(samples)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise InputError(f"stream: expected (n, 2) samples of two leads, got shape {arr.shape}")
    return check_signal(arr[:, 0], "stream lead 1"), check_signal(arr[:, 1], "stream lead 2")


def classify_record(
    signal: np.ndarray,
    fs: float,
    model: BeatModel | str | os.PathLike[str] | None = None,
    chunk: int | None = None,
    threads: int = 1,
    second: np.ndarray | None = None,
    rhythm_rule: bool = False,
    artifact_check: bool | ArtifactCheck = False,
    calibration: Calibration | None = None,
) -> list[ClassifiedBeat]:
    """Detect and classify every beat of a whole signal (``chunk`` feeds it in blocks);
    ``second``, a second lead sampled with it, helps find the beats (``leads``);
    ``rhythm_rule``, ``artifact_check`` and ``calibration`` as in :class:`StreamClassifier`."""
    signal = check_signal(signal)
    stream = StreamClassifier(
        fs,
        model,
        threads,
        leads=1 if second is None else 2,
        rhythm_rule=rhythm_rule,
        artifact_check=artifact_check,
        calibration=calibration,
    )
    if second is not None:
        second = check_signal(second, "second lead")
        if second.size != signal.size:
            raise InputError(
                f"second lead: {second.size} samples, the first has {signal.size}; the leads "
                "must be sampled together"
            )
    if len(signal) < WINDOW * stream.fs / FS:
        raise InputError(
            f"signal: {len(signal)} samples ({len(signal) / stream.fs:.2f} s) is shorter than "
            f"one beat window ({WINDOW / FS:.2f} s)"
        )
    step = chunk or len(signal)
    beats: list[ClassifiedBeat] = []
    for start in range(0, len(signal), step):
        block = signal[start : start + step]
        if second is not None:  # stacked a block at a time: no copy of the whole record
            block = np.column_stack([block, second[start : start + step]])
        beats += stream.push(block)
    return beats + stream.flush()
