"""The report's augmentation section: picks the utterance and reads the augment manifest, has
:mod:`sdd.augment.figures` draw one spectrogram per op and the parameter distributions, and captions
them."""

from __future__ import annotations

from pathlib import Path

from sdd.audio.io import read_audio
from sdd.augment.params import AugmentParams
from sdd.core.paths import resolve
from sdd.core.stage import read_manifest

__all__ = ["augment_figures"]


def augment_figures(
    augment: AugmentParams, aug_dir: Path, train_manifest: Path, fig_dir: Path
) -> list[tuple[str, Path]]:
    """Draw the augmentation figures; returns ``[(caption, png path)]`` for the report."""
    from sdd.augment.figures import plot_op_spectrograms, plot_param_distributions

    manifest = read_manifest(train_manifest)
    first = (
        manifest[manifest["label"] == "bonafide"].iloc[0]
        if (manifest["label"] == "bonafide").any()
        else manifest.iloc[0]
    )
    wave, sr = read_audio(resolve(first["path"]), augment.sample_rate)
    ops_png, params_png = fig_dir / "augment_ops.png", fig_dir / "augment_params.png"
    plot_op_spectrograms(wave, sr, ops_png, seed=augment.seed)
    plot_param_distributions(read_manifest(aug_dir / "manifest.csv", ("utt_id", "path")), params_png)
    return [
        (f"Augmentation ops: spectrograms of one bona fide training utterance ({first['utt_id']}) after "
         "each registered op with its default parameters (time on x, frequency on y, darker = less energy); "
         "compare each panel with the clean one to see what the op changes.", ops_png),
        (f"Augmentation parameters: histograms of every numeric parameter actually drawn by policy "
         f"{augment.policy!r} over all precomputed copies; each panel's range is what training saw.",
         params_png),
    ]
