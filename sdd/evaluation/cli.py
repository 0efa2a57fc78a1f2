"""``sdd evaluate``: the metrics JSON from a score file and a protocol (the CONTRACT command)::

    sdd evaluate --scores S --protocol P [--asv-scores A] --format FMT --out OUT.json [--ci [--block speaker]]
                 [--sasv-scores F [--sasv-keys K]] [--dev-scores D --dev-protocol DP]

It reads the official formats (data.md): CM score files ``trial score`` (2021 checker, our ``score``
stage) or ``utt attack key score`` (:mod:`.score_files`); protocols/keys of ASVspoof 2019 LA
(5 columns), 2021 LA (8-column ``trial_metadata.txt``) and DF (13 columns), In-the-Wild ``meta.csv``,
ASVspoof 5 (10 columns) (:mod:`.protocols`); ASV score files ``CM_KEY ASV_KEY SCORE`` (2019) and,
for 2021 LA, what the 2021 package reads from the keys folder: ``LA-C012-<subset>.npy`` and
``ASV/trial_metadata.txt`` + ``ASV/ASVTorch_Kaldi/score.txt`` (:mod:`.tdcf2021`); SASV scores for the
a-DCF and the t-EER (:mod:`.sasv`). Then :func:`sdd.evaluation.trials.evaluate_trials`. Errors print
one line to stderr and return 2; torch is never imported (``sdd evaluate`` starts in well under a second).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from sdd import metrics as M
from sdd.core import atomic
from sdd.core.cliargs import Parser, int_in
from sdd.evaluation.common import BONAFIDE, EvaluationError
from sdd.evaluation.protocols import FORMATS, join_scores, read_protocol
from sdd.evaluation.sasv import read_sasv_scores
from sdd.evaluation.score_files import read_asv_scores, read_scores
from sdd.evaluation.trials import evaluate_trials, fit_calibration, validate_trials

__all__ = ["cli_main"]

log = logging.getLogger(__name__)


EXAMPLES = """\
examples:
  # ASVspoof 2019 LA eval: EER, both t-DCF forms, t-EER, ASVspoof 5 metrics, per-attack EER, 95% CI
  sdd evaluate --scores scores.txt --format asvspoof2019 --out metrics.json --ci \\
      --protocol LA/ASVspoof2019_LA_cm_protocols/ASVspoof2019.LA.cm.eval.trl.txt \\
      --asv-scores LA/ASVspoof2019_LA_asv_scores/ASVspoof2019.LA.asv.eval.gi.trl.scores.txt

  # ASVspoof 2021 LA from its keys folder: t-DCF per attack and per codec, speaker-blocked CI
  sdd evaluate --scores scores.txt --protocol keys/LA --format asvspoof2021 --out la21.json \\
      --ci --block speaker

  # ASVspoof 5: CM metrics plus the a-DCF of SASV scores (spk utt score target|nontarget|spoof)
  sdd evaluate --scores cm.txt --protocol asv5_protocol.txt --format asvspoof5 --out asv5.json \\
      --sasv-scores sasv.txt

  # ASVspoof 5 Track 2 table (spk filename cm-score asv-score sasv-score): a-DCF and the t-EER
  sdd evaluate --scores cm.txt --protocol asv5_protocol.txt --format asvspoof5 --out asv5.json \\
      --sasv-scores sasv_table.tsv --sasv-keys sasv_keys.tsv
"""


#: ``--n-resamples`` upper bound: the bootstrap's time and memory grow with it (1,000 is the default).
MAX_RESAMPLES = 100_000
#: The options naming files ``sdd evaluate`` reads: ``--out`` may be none of them.
INPUTS = ("scores", "protocol", "asv_scores", "dev_scores", "dev_protocol", "sasv_scores", "sasv_keys")


def _check_out(args: argparse.Namespace) -> None:
    """``--out`` must not be one of the inputs (it would be overwritten with JSON) nor a folder."""
    out = args.out.resolve()
    for name in INPUTS:
        given = getattr(args, name)
        if given is not None and given.resolve() == out:
            raise EvaluationError(
                f"--out {args.out} is the --{name.replace('_', '-')} file: writing the metrics there would "
                f"overwrite it; name another file"
            )
    if args.out.is_dir():
        raise EvaluationError(
            f"--out {args.out} is a folder; expected a JSON file to write, e.g. {args.out}/m.json"
        )


def _parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="sdd evaluate",
        description="Metrics JSON (fractions) from a CM score file and a protocol: EER, min t-DCF "
        "(revised and legacy, with ASV scores; per attack and codec for 2021 LA keys) and t-EER (with "
        "ASV scores), ASVspoof 5 minDCF/actDCF/Cllr, per-attack and per-condition EER, a-DCF of SASV "
        "scores (and their t-EER when the SASV table has cm-score and asv-score).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--scores", required=True, type=Path, help="CM scores: 'trial score' or 'utt attack key score'"
    )
    p.add_argument(
        "--protocol", required=True, type=Path, help="protocol / keys file (2021: file or keys folder)"
    )
    p.add_argument("--format", required=True, choices=sorted(FORMATS), help="protocol format")
    p.add_argument("--out", required=True, type=Path, help="metrics JSON to write (atomically)")
    p.add_argument(
        "--asv-scores", type=Path, help="ASV scores 'CM_KEY ASV_KEY SCORE' for the t-DCF and the t-EER"
    )
    p.add_argument("--subset", default="eval", help="ASVspoof 2021 subset: eval (default), progress, hidden")
    p.add_argument("--ci", action="store_true", help="add eer_ci95, a stratified bootstrap 95%% interval")
    p.add_argument(
        "--block",
        choices=["speaker"],
        help="with --ci: resample whole speakers (within each class) instead of trials",
    )
    p.add_argument(
        "--n-resamples",
        type=int_in(1, MAX_RESAMPLES),
        default=1000,
        help=f"bootstrap replicates (default 1000, at most {MAX_RESAMPLES:,})",
    )
    p.add_argument("--seed", type=int_in(0, 2**32 - 1), default=0, help="bootstrap seed (default 0)")
    p.add_argument("--dev-scores", type=Path, help="DEV scores to fit a logistic calibration on")
    p.add_argument("--dev-protocol", type=Path, help="protocol of --dev-scores (same --format)")
    p.add_argument(
        "--sasv-scores",
        type=Path,
        help="SASV scores for the a-DCF: 'spk utt score key' (key target/nontarget/spoof), or "
        "'utt score' / 'spk utt score' / the ASVspoof 5 table with --sasv-keys",
    )
    p.add_argument(
        "--sasv-keys", type=Path, help="keys of --sasv-scores: 'utt key', 'spk utt key' or the ASVspoof 5 one"
    )
    return p


def cli_main(argv: list[str]) -> int:
    """``sdd evaluate``: write the metrics JSON; errors print one line to stderr and return 2."""
    args = _parser().parse_args(argv)
    try:
        if (args.dev_scores is None) != (args.dev_protocol is None):
            raise EvaluationError("--dev-scores and --dev-protocol go together")
        _check_out(args)
        if args.block is not None and not args.ci:
            raise EvaluationError(f"--block {args.block} sets how --ci resamples; add --ci")
        if args.sasv_keys is not None and args.sasv_scores is None:
            raise EvaluationError("--sasv-keys goes with --sasv-scores")
        protocol = read_protocol(args.protocol, args.format, args.subset)
        trials = join_scores(protocol, read_scores(args.scores), scores_name=f"score file {args.scores}")
        asv = read_asv_scores(args.asv_scores) if args.asv_scores is not None else protocol.asv
        # the 2021 LA keys' coefficients per condition, unless the user brings other ASV scores
        c012 = protocol.c012 if args.asv_scores is None else None
        sasv = read_sasv_scores(args.sasv_scores, args.sasv_keys) if args.sasv_scores is not None else None
        calibration = None
        if args.dev_scores is not None:
            dev_p = read_protocol(args.dev_protocol, args.format, args.subset)
            dev_name = f"dev score file {args.dev_scores}"
            dev = join_scores(dev_p, read_scores(args.dev_scores), scores_name=dev_name)
            validate_trials(dev, ())
            is_b = (dev["label"] == BONAFIDE).to_numpy()
            calibration = fit_calibration(dev["score"].to_numpy()[is_b], dev["score"].to_numpy()[~is_b])
        result = evaluate_trials(
            trials,
            asv_scores=asv,
            condition_columns=protocol.condition_columns,
            spoof_condition_columns=protocol.spoof_condition_columns,
            ci=args.ci,
            n_resamples=args.n_resamples,
            seed=args.seed,
            calibration=calibration,
            ci_block=args.block,
            c012=c012,
            sasv_scores=sasv,
        )
        atomic.write_json(args.out, result, indent=1, sort_keys=False, allow_nan=False)
    except (EvaluationError, M.MetricsError, OSError) as e:
        print(f"sdd evaluate: error: {e}", file=sys.stderr)
        return 2
    log.info(
        "eer=%.6f n_bonafide=%d n_spoof=%d -> %s",
        result["eer"],
        result["n_bonafide"],
        result["n_spoof"],
        args.out,
    )
    return 0
