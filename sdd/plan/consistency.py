"""Settings that are each valid alone but cannot both hold: :data:`CONTRADICTIONS`, checked on every
trained arm (and point of the partial-model curve) by :func:`check_contradictions`.

Each entry reads one resolved training section and the ``score`` section and returns one line naming
both keys, where each value came from (``train.epochs`` or the arm's own ``arms.<arm>.train.epochs``)
and the fix, or None. They live in the plan, not in :class:`~sdd.train.params.TrainParams`, because a
stored model's config is rebuilt with that class too and must keep loading.

Left out on purpose, because they are choices rather than contradictions: crops or dev inputs longer
than a corpus's utterances (repeat-padded, as the ASVspoof convention pads to 64,600 samples),
``probe.num_samples`` different from ``score.num_samples`` (the probes are their own measurement), a
``patience`` that can never trigger, and settings that a chosen schedule or device ignores (``lr_decay``
with ``schedule: constant``, ``cuda_bf16`` on a CPU).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from sdd.core.configbase import ConfigError
from sdd.core.sections import ScoreParams
from sdd.train.params import TrainParams

__all__ = ["CONTRADICTIONS", "check_contradictions"]

#: ``(resolved train section, score section, source of a train key) -> message or None``; the source
#: function maps ``"epochs"`` to the dotted key the value came from.
Check = Callable[[TrainParams, ScoreParams, Callable[[str], str]], "str | None"]


def _dev_samples(tp: TrainParams, score: ScoreParams, src: Callable[[str], str]) -> str | None:
    if score.whole or tp.dev_samples == score.num_samples:
        return None  # whole utterances: the score stage stores its own dev threshold (sdd.train.score_arm)
    return (
        f"{src('dev_samples')} ({tp.dev_samples}) differs from score.num_samples ({score.num_samples}): "
        "the decision threshold stored with each model is its dev EER threshold on the first dev_samples "
        "samples, while scoring reads the first score.num_samples; set both to the same value"
    )


def _average_best(tp: TrainParams, score: ScoreParams, src: Callable[[str], str]) -> str | None:
    del score
    if tp.average_best <= tp.epochs:
        return None
    return (
        f"{src('average_best')}: got {tp.average_best}, more than {src('epochs')} ({tp.epochs}): the final "
        f"weights would average fewer epochs than asked, since a run has at most {tp.epochs}; set "
        "average_best <= epochs"
    )


def _min_epochs(tp: TrainParams, score: ScoreParams, src: Callable[[str], str]) -> str | None:
    del score
    if tp.min_epochs <= tp.epochs:
        return None
    return (
        f"{src('min_epochs')}: got {tp.min_epochs}, more than {src('epochs')} ({tp.epochs}), the most a run "
        "trains; set min_epochs <= epochs (patience: null turns early stopping off)"
    )


def _warmup(tp: TrainParams, score: ScoreParams, src: Callable[[str], str]) -> str | None:
    del score
    if tp.schedule != "warmup_exp" or tp.warmup_epochs <= tp.epochs:
        return None
    return (
        f"{src('warmup_epochs')}: got {tp.warmup_epochs}, more than {src('epochs')} ({tp.epochs}): with "
        "schedule warmup_exp the run would end still warming up, never at its full learning rate; set "
        "warmup_epochs <= epochs"
    )


#: Every pair of settings the plan refuses together, by name (the order they are checked in).
CONTRADICTIONS: dict[str, Check] = {
    "dev_samples vs score.num_samples": _dev_samples,
    "average_best vs epochs": _average_best,
    "min_epochs vs epochs": _min_epochs,
    "warmup_epochs vs epochs": _warmup,
}


def check_contradictions(
    tp: TrainParams, score: ScoreParams, overrides: Mapping[str, str], where: str = ""
) -> None:
    """Raise :class:`ConfigError` with the first entry of :data:`CONTRADICTIONS` that ``tp`` breaks.

    Args:
        tp: a resolved training section (an arm's, or a partial-model arm's).
        score: the ``score`` section.
        overrides: train key -> the dotted key its value came from, when not ``train.<key>`` (an arm's
            own ``arms.<arm>.train.<key>``, or ``probe.partial_epochs``).
        where: prefixed to the message (``"probe.partial_layers[2]: "``), or "".
    """

    def src(key: str) -> str:
        return overrides.get(key, f"train.{key}")

    for check in CONTRADICTIONS.values():
        message = check(tp, score, src)
        if message is not None:
            raise ConfigError(where + message)
