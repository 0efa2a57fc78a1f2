"""The ``probe`` section of params.yaml (torch-free, like every params module).

``models`` names what the extract and probe stages probe (dvc.yaml iterates over it): ``random`` (the
backbone's architecture with random weights: the exact initialisation pretraining started from),
``backbone`` (what the arms start from: the pretrained demo backbone by default, or whatever the
``backbone`` toggle names) or an arm (its trained checkpoint, ``models/<arm>``). The extraction
settings and the probe settings are separate plan documents, so changing only a probe setting never
re-extracts.
"""

from __future__ import annotations

from dataclasses import dataclass

from sdd.core.configbase import ConfigError
from sdd.core.plandocs import EvalSet

__all__ = [
    "BACKBONE_SOURCES", "PROBE_KINDS", "ExtractPlan", "ExtractSettings", "ProbeParams", "ProbePlan",
    "ProbeSettings",
]  # fmt: skip

#: Probed-model names that are not arms: the pretrain stage's two folders ``models/<name>``.
BACKBONE_SOURCES = ("random", "backbone")
PROBE_KINDS = ("layer", "concat", "linm")


@dataclass(frozen=True)
class ProbeParams:
    """Layer-wise probing and the partial-model curve.

    Attributes:
        models: probed models (see the module docstring); stage names ``extract@<name>``.
        num_samples: extraction input per utterance: the first N samples, repeat-padded (the scorer's
            64,600 by default); null takes each utterance whole (one per batch, slower).
        batch_size, threads: extraction batch and torch CPU threads.
        l2_grid: L2 strengths tried by every probe; the lowest dev EER wins (ties: the stronger).
        kinds: ``layer`` (each hidden state alone), ``concat`` (means of the first k layers
            concatenated), ``linm`` (LinM: a softmax-weighted sum of the first k layer means).
        n_resamples, seed: the bootstrap 95% CIs of every EER (0: no CIs).
        partial_layers: the partial-model curve: for each k, `main` fine-tuned on the backbone cut to
            its first k layers (opt-in: empty by default).
        partial_epochs: epochs of those cheap arms (null: `main`'s ``train.epochs``).
    """

    models: tuple[str, ...] = ("random", "backbone", "main")
    num_samples: int | None = 64600
    batch_size: int = 32
    threads: int = 2
    l2_grid: tuple[float, ...] = (0.001, 0.01, 0.1, 1.0, 10.0)
    kinds: tuple[str, ...] = PROBE_KINDS
    n_resamples: int = 1000
    seed: int = 0
    partial_layers: tuple[int, ...] = ()
    partial_epochs: int | None = None

    def __post_init__(self) -> None:
        if not self.models:
            # dvc.yaml's report stage depends on reports/probe, which only the probe stages write.
            raise ConfigError(
                "probe.models: got []; expected at least one probed model (the report stage reads "
                "reports/probe); the cheapest is [random] (the random init, a few seconds)"
            )
        if len(set(self.models)) != len(self.models):
            raise ConfigError(f"probe.models: got duplicates in {list(self.models)}")
        for name in ("batch_size", "threads"):
            if getattr(self, name) < 1:
                raise ConfigError(f"probe.{name}: got {getattr(self, name)}; expected a positive integer")
        if self.num_samples is not None and self.num_samples < 4000:
            raise ConfigError(f"probe.num_samples: got {self.num_samples}; expected >= 4000 or null")
        if not self.l2_grid or any(not c > 0 for c in self.l2_grid):
            raise ConfigError(f"probe.l2_grid: got {list(self.l2_grid)}; expected positive strengths")
        if not self.kinds or set(self.kinds) - set(PROBE_KINDS) or len(set(self.kinds)) != len(self.kinds):
            raise ConfigError(
                f"probe.kinds: got {list(self.kinds)}; expected distinct values of {list(PROBE_KINDS)}"
            )
        if self.n_resamples < 0:
            raise ConfigError(f"probe.n_resamples: got {self.n_resamples}; expected >= 0")
        if any(k < 1 for k in self.partial_layers) or len(set(self.partial_layers)) != len(
            self.partial_layers
        ):
            raise ConfigError(
                f"probe.partial_layers: got {list(self.partial_layers)}; expected distinct "
                "positive layer counts"
            )
        if self.partial_epochs is not None and self.partial_epochs < 1:
            raise ConfigError(f"probe.partial_epochs: got {self.partial_epochs}; expected >= 1 or null")


@dataclass(frozen=True)
class ExtractSettings:
    """The extraction settings of ``probe`` (:class:`ProbeParams`'s fields of the same names)."""

    num_samples: int | None
    batch_size: int
    threads: int


@dataclass(frozen=True)
class ProbeSettings:
    """The probe settings of ``probe`` (:class:`ProbeParams`'s fields of the same names)."""

    l2_grid: tuple[float, ...]
    kinds: tuple[str, ...]
    n_resamples: int
    seed: int


@dataclass(frozen=True)
class ExtractPlan:
    """``extract.json``: the eval sets, the models' input normalisation and the extraction settings
    (a document of its own, so a probe setting never re-extracts)."""

    eval_sets: tuple[EvalSet, ...]
    normalize_input: bool
    extract: ExtractSettings


@dataclass(frozen=True)
class ProbePlan:
    """``probe.json``: the eval sets and the probe settings."""

    eval_sets: tuple[EvalSet, ...]
    probe: ProbeSettings
