"""The leakage guard: evaluation data must share no speaker or utterance with training/model selection."""

from __future__ import annotations

import pandas as pd

__all__ = ["LeakageError", "check_leakage"]


class LeakageError(RuntimeError):
    """Evaluation speakers or utterances also appear in the training corpus's train/dev manifests."""


def check_leakage(train: dict[str, pd.DataFrame], evals: dict[str, pd.DataFrame]) -> None:
    """Fail when an evaluation set shares speakers or utterances with training/model selection.

    Args:
        train: the training corpus's manifests used for training and model selection (e.g.
            ``{"train": df, "dev": df}``).
        evals: eval-set name (e.g. ``"la21:eval"``) -> manifest.

    Speakers ``-`` (unknown) are ignored; utterances are compared by id and by audio path.

    Raises:
        LeakageError: with counts and examples per offending eval set.
    """
    frames = list(train.values())
    if not frames:
        return
    t = pd.concat(frames, ignore_index=True)
    speakers = set(t["speaker"]) - {"-", ""}
    utts, paths = set(t["utt_id"]), set(t["path"])
    problems = []
    for name, df in evals.items():
        found = {
            "speakers": sorted(set(df["speaker"]) & speakers),
            "utterance ids": sorted(set(df["utt_id"]) & utts),
            "audio paths": sorted(set(df["path"]) & paths),
        }
        for what, items in found.items():
            if items:
                problems.append(f"{name}: {len(items)} {what} also in {'/'.join(train)} (e.g. {items[:5]})")
    if problems:
        raise LeakageError(
            "evaluation data leaks into training/model selection:\n  " + "\n  ".join(problems)
            + "\nchoose eval sets disjoint from the training corpus's train/dev splits"
        )
