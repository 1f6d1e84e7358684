"""``edge-ecg noise-stress``: detector and classifier under NSTDB noise, at EC57 SNRs."""

from __future__ import annotations

import click

from edge_ecg.errors import InputError
from edge_ecg.options import data_dir_option, json_option, progress

from .study_output import emit_study, md_option


@click.command("noise-stress")
@data_dir_option
@click.option(
    "--snr", default="24,18,12,6,0,-6", show_default=True, help="SNRs in dB, comma-separated."
)
@click.option(
    "--records",
    default="100,105,203,213,219,233",
    show_default=True,
    help="DS2 records mixed with the bw/em/ma noise records.",
)
@click.option("--model", type=click.Path(dir_okay=False), help="Default: the shipped model.")
@json_option("every figure")
@md_option
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), help="PNG curves.")
@click.option(
    "--two-leads",
    is_flag=True,
    help="The detector also reads each record's second lead (V1 for 118/119); in the mixes "
    "that lead gets the noise records' second channel.",
)
@click.option(
    "--artifact-check",
    is_flag=True,
    help="Drop detected beats the bundled artefact check takes for noise (as 'classify "
    "--artifact-check' does).",
)
def noise_stress(
    data_dir, snr, records, model, json_path, md_path, plot_path, two_leads, artifact_check
) -> None:
    """How detection and classification degrade in noise.

    \b
    (a) NSTDB 118e* and 119e* (electrode motion from minute 5), scored after minute 5, with
    their clean originals as the baseline; (b) DS2 records (first 10 minutes) mixed with the
    NSTDB bw, em and ma noise records at each SNR, the noise scaled on the record's QRS
    amplitude as EC57's nst does. Beats matched within 150 ms. --two-leads: the detector
    reads both leads of each record (classification stays on MLII).

    \b
    Example:
      edge-ecg noise-stress --data-dir ../shared/data --json noise.json --md noise.md \\
          --plot noise.png
    """
    from .noise_stress import markdown, plot, run

    try:
        snrs = [float(s) for s in snr.split(",") if s.strip()]
    except ValueError:
        raise InputError(f"--snr: {snr!r} is not a comma-separated list of numbers") from None
    if not snrs:
        raise InputError("--snr: give at least one SNR")
    result = run(
        data_dir, snrs, [r for r in records.split(",") if r], model, bar=progress,
        two_leads=two_leads, artifact_check=artifact_check,
    )  # fmt: skip
    emit_study(result, markdown, json_path, md_path)
    if plot_path:
        plot(result, plot_path)
