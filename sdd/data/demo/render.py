"""One demo utterance: its plan (:class:`Job`) and its rendering (:func:`render`).

Clean speech -> attack (spoofs) -> recording -> transmission (``eval_degraded``) -> level, with the
content, the attack and the channel each drawn from their own stream of the utterance's seed;
:func:`synthesize_utterance` renders one in memory (tests and inspection).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sdd.data.corpora.demo_config import DemoConfig
from sdd.data.demo.attacks import ATTACKS
from sdd.data.demo.recording import apply_recording, set_level
from sdd.data.demo.synthesis import Voice, make_voice, synthesize_clean
from sdd.data.demo.transmission import TRANSMISSIONS

__all__ = ["Job", "render", "synthesize_utterance"]


@dataclass(frozen=True)
class Job:
    """One utterance to synthesise and write."""

    path: str
    voice: Voice
    attack: str  # "-" for bona fide
    n_samples: int
    seed: tuple[int, ...]  # SeedSequence entropy
    transmission: str  # a key of TRANSMISSIONS, "-" for none


def synthesize_utterance(
    voice_seed: int,
    utt_seed: int,
    attack: str,
    duration_s: float,
    cfg: DemoConfig,
    degraded: bool | str = False,
) -> np.ndarray:
    """Synthesise one demo utterance in memory (for tests and inspection).

    Args:
        voice_seed: seed of the speaker's voice parameters.
        utt_seed: seed of the utterance (content, attack randomness, channel).
        attack: ``"-"`` for bona fide or a key of :data:`ATTACKS`.
        duration_s: length in seconds.
        cfg: the corpus config (sample rate, and the seed that ``utt_seed`` is combined with).
        degraded: apply a transmission condition after the recording conditions: ``True`` picks
            one of :data:`TRANSMISSIONS` from ``utt_seed``, a name picks that one.

    Returns:
        (T,) float32 wave in [-1, 1], T = round(duration_s * sample_rate).
    """
    if attack != "-" and attack not in ATTACKS:
        raise KeyError(f"attack {attack!r} does not exist; expected '-' or one of {sorted(ATTACKS)}")
    voice = make_voice(np.random.default_rng(voice_seed))
    if isinstance(degraded, str) and degraded not in TRANSMISSIONS:
        raise KeyError(f"transmission {degraded!r} does not exist; expected one of {sorted(TRANSMISSIONS)}")
    names = sorted(TRANSMISSIONS)
    tx = degraded if isinstance(degraded, str) else (names[utt_seed % len(names)] if degraded else "-")
    job = Job("", voice, attack, int(round(duration_s * cfg.sample_rate)), (cfg.seed, utt_seed), tx)
    return render(job, cfg)


def render(job: Job, cfg: DemoConfig) -> np.ndarray:
    """Clean speech -> attack (spoofs) -> recording -> transmission (eval_degraded) -> level."""
    sr = cfg.sample_rate
    rng_content, rng_attack, rng_channel = (
        np.random.default_rng(s) for s in np.random.SeedSequence(list(job.seed)).spawn(3)
    )
    wave = synthesize_clean(job.voice, job.n_samples, sr, rng_content)
    if job.attack != "-":
        wave = ATTACKS[job.attack].fn(wave, sr, rng_attack)
    wave = apply_recording(wave, sr, rng_channel)
    if job.transmission != "-":
        wave = TRANSMISSIONS[job.transmission].fn(wave, sr, rng_channel)
    wave = set_level(wave, rng_channel)
    if not np.all(np.isfinite(wave)):
        raise FloatingPointError(f"demo synthesis produced non-finite samples for {job.path or job.seed}")
    return wave.astype(np.float32)
