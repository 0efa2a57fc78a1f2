"""The built-in ``demo`` corpus: synthetic bona fide speech and spoofs in the ASVspoof 2019 LA layout.

One module per part of the generator; this package re-exports the public names:

- :mod:`sdd.data.corpora.demo_layout`: the four splits, their attacks and where their files and
  protocols live (:data:`SPLITS`, :func:`protocol_path`), and :mod:`sdd.data.corpora.demo_config`: the
  corpus parameters and their range checks (:class:`DemoConfig`); both beside the corpus recipes,
  so the plan validates a ``demo`` entry without importing this package;
- :mod:`.dsp`: the STFT, overlap-add, filtering and smoothing helpers of synthesis and attacks;
- :mod:`.synthesis`: bona fide speech from a source-filter model (voices, syllables, glottal source);
- :mod:`.attacks`: the spoofing systems A01-A06 and what gives each one away (:data:`ATTACKS`);
- :mod:`.recording`: the recording-level variation of every split (a mild room, a random level);
- :mod:`.transmission`: the transmission conditions of ``eval_degraded`` (:data:`TRANSMISSIONS`);
- :mod:`.render`: one utterance, clean speech -> attack -> recording -> transmission -> level
  (:func:`synthesize_utterance`);
- :mod:`.writer`: the whole corpus, planned split by split and written atomically in the 2019 LA
  layout (:func:`generate_demo`, :func:`config_summary`).

Spoofs re-synthesise bona fide-like utterances of the same speakers with attack systems of distinct
artefact families, as ASVspoof 2019 LA did. Train and dev hold A01-A04; eval and eval_degraded add
A05, an unseen variant of a training family (A01's), and A06, an unseen new family.

Domain shift, as between ASVspoof 2019 LA and 2021 LA/DF: ``train``, ``dev`` and ``eval`` carry
recording-level variation only (a random level and, for half of the utterances, a mild room: RT60
0.1-0.3 s), like the studio-clean 2019 LA. ``eval_degraded`` holds eval-like material (its own
speakers, attacks A01-A06) transmitted through one of :data:`TRANSMISSIONS` per utterance, after the
telephony and VoIP channels of ASVspoof 2021 LA (Liu et al., IEEE/ACM TASLP 2023): the telephone band
with G.711 mu-law, the telephone band with A-law and packet loss, Opus with packet loss, MP3 at a low
bit rate, and pink or brown noise at 0-8 dB SNR. Each is the one implementation in
:mod:`sdd.augment.functional`. None of them is in the default training augmentation (``rawboost4``);
the overlaps are of kind only (see :data:`TRANSMISSIONS`), so no arm trains on the test distortion.
Until this version every utterance also passed through a random channel (reverb, EQ, noise at
20-40 dB SNR), which left ``eval_degraded`` no harder than ``eval``: there was no shift to act on.

Shortcuts: no attack may be recognisable from a trivial property of the file. Until this version
the LPC attacks (A02 and the former A06, an LPC vocoder at 8 kHz) carried a DC offset (mean / RMS
about 0.06 against under 0.001 for every other class, 0.2 % EER from the mean alone), because the
LPC pulse train was positive-only; it is now removed where it arose. Removing the channel exposed one
more: A06's filter lowered each frame's power and put modulation sidebands below 60 Hz, so the share
of power under 60 Hz alone gave 18 % EER on A06; A06 now keeps each frame's power and the input's own
sub-bass (``_attack_filter_vc`` in :mod:`.attacks`). :mod:`sdd.audit.shortcuts` audits
every single trivial feature (DC, level, peak, crest factor, duration, leading and trailing silence,
spectral centroid, bandwidth, energy above 7 kHz and below 60 Hz) and an MFCC logistic regression,
and ``tests/audit/test_shortcuts.py`` holds the default corpus to it: every single feature must stay at
or above 40 % EER pooled and 25 % per attack on eval and eval_degraded (on the default config the
lowest are 44.7 % pooled and 30.3 % per attack, the crest factor on A01), and the MFCC logistic
regression trained on train must stay at or above 30 % on eval (37.0 %; 48.0 % on eval_degraded).

Difficulty, measured on the default config (seed 0, the README's timed run): the hand-feature
logistic regression of :mod:`sdd.audit.baseline` scores eval EER 44.7 % (A04 24.2 %, every other attack
40-54 %) and 47.7 % on eval_degraded. The fully fine-tuned arms of the default ``params.yaml`` (the
pretrain stage's tiny wav2vec2, hidden 64, 4 layers, 6 epochs of 1 s crops) reach 11.0-13.3 % on
eval and 23.0-24.3 % on eval_degraded (the telephony conditions 28-40 %, the codecs 8-15 %), with
A03 (20-24 %) and the unseen A06 (24-32 %) the hardest attacks; the ``attm`` arm 15.0 / 28.3 %, and
the ``lora`` arm stays at chance (49.7 %) on this backbone (docs/results.md).
Generation (the ``fetch`` stage) takes about 50 s on 2 idle cores.

Generation is deterministic: every utterance draws from its own ``np.random.Generator`` seeded from
``(seed, split, index)``, so the bytes written do not depend on the number of worker processes.
"""

from __future__ import annotations

from pathlib import Path

from sdd.augment import codecs, waveform
from sdd.augment import functional as F
from sdd.data.corpora import demo_config, demo_layout
from sdd.data.corpora.demo_config import DemoConfig
from sdd.data.corpora.demo_layout import SPLITS, DemoSplit, protocol_path
from sdd.data.demo.attacks import ATTACKS
from sdd.data.demo.render import synthesize_utterance
from sdd.data.demo.transmission import TRANSMISSIONS, Transmission
from sdd.data.demo.writer import config_summary, generate_demo

__all__ = [
    "ATTACKS",
    "DemoConfig",
    "DemoSplit",
    "GENERATOR_SOURCES",
    "SPLITS",
    "TRANSMISSIONS",
    "Transmission",
    "config_summary",
    "generate_demo",
    "protocol_path",
    "synthesize_utterance",
]

#: The source files whose code decides the bytes generated, which the corpus recipe fingerprints: every
#: module of this package (sorted, so ``__init__.py`` first), its layout and config beside the corpus
#: recipes, and the degradations it shares with :mod:`sdd.augment` (last: the pure functions and the
#: two modules they build on).
GENERATOR_SOURCES: tuple[str, ...] = (
    *sorted(str(p) for p in Path(__file__).parent.glob("*.py")),
    demo_layout.__file__,
    demo_config.__file__,
    waveform.__file__,
    codecs.__file__,
    F.__file__,
)
