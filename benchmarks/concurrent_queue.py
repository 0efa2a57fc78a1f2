"""4 queued DVC experiments run 2 at a time against one MLflow store: is every run logged once?

    python benchmarks/concurrent_queue.py            # ~10-20 min on 2 busy cores
    python benchmarks/concurrent_queue.py --keep     # keep the temporary repo (its path is printed)

Builds a micro copy of this repository in a temporary folder (the git-tracked and untracked-but-not-
ignored files, `git init`; params: arms `main` and `clean`, seed 0, 8 demo utterances per split, one
epoch, a 2-layer tiny backbone), runs `dvc repro` once, then queues 4 experiments
(`dvc exp run --queue -S align=<pcgrad|gradvac|cagrad|gr>`) and runs them with
`dvc queue start -j 2`. Each experiment retrains `main` (its `align` changed) and takes `clean` from
DVC's cache, so the report stage creates `clean`'s child run from the DVC outputs
(:func:`sdd.report.tracking.ensure_arm_run`). All of them log to `<repo>/mlflow.db` (queued experiments run in
`.dvc/tmp/exps/...` with `$DVC_ROOT` pointing at the repo).

An experiment counts as OK when DVC ran it successfully and the MLflow store holds, for it, exactly
one parent run (tag `sdd.pipeline` = the experiment's name, FINISHED) with exactly the children
`main-s0` (trained and evaluated in this experiment: tags `sdd.train`/`sdd.evaluate` = logged, param
`align` = the experiment's) and `clean-s0` (copied, `sdd.copied_from` = the workspace's `clean` run);
each child's eval EERs equal the experiment's `reports/metrics.json` (from `dvc exp show`), the
parent's metrics equal its summary, and no metric has a step logged twice. The store must hold one
MLflow experiment and no other run.

Prints `RESULT concurrent_experiments_ok=<ok>/<total>` and the wall times. Run by hand, not in the
test suite.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
ALIGNS = ["pcgrad", "gradvac", "cagrad", "gr"]
EVAL_SETS = ["demo:eval", "demo:eval_degraded"]


def run(cmd: list[str], cwd: Path, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=env, text=True, capture_output=True)
    if check and proc.returncode != 0:
        tail = f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        raise SystemExit(f"`{' '.join(cmd)}` failed ({proc.returncode}):\n{tail}")
    return proc


def build(dest: Path, env: dict[str, str]) -> None:
    """The micro repo: this checkout's files, tiny params, a fresh git history."""
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                           text=True, capture_output=True, check=True).stdout.split()  # fmt: skip
    for rel in files:
        src = REPO / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    params = yaml.safe_load((dest / "params.yaml").read_text())
    params["seeds"] = [0]
    params["arms"] = {"main": {}, "clean": params["arms"]["clean"]}
    params["corpora"]["demo"]["n_per_split"] = 8
    params["augment"]["copies"] = 1
    params["model"]["tiny"] = {"conv_channels": 8, "hidden_size": 16, "num_layers": 2, "num_heads": 2,
                               "intermediate_size": 16}  # fmt: skip
    params["train"].update(
        epochs=1, average_best=1, batch_size=8, crop_samples=4000, dev_samples=8000, threads=1
    )
    params["score"].update(num_samples=8000, threads=1)
    params["evaluate"]["n_resamples"] = 50
    params["report"]["n_resamples"] = 50
    (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(["git", "init", "-q"], dest, env)
    run(["git", "add", "-A"], dest, env)
    run(["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit", "-qm", "init"],
        dest, env)


def queue_status(repo: Path, env: dict[str, str]) -> dict[str, str]:
    """``{experiment name: status}`` from ``dvc queue status``."""
    out = run(["dvc", "queue", "status"], repo, env).stdout
    status = {}
    for line in out.splitlines():
        cols = line.split()
        for name in (f"q-{a}" for a in ALIGNS):
            if name in cols:
                status[name] = cols[-1]
    return status


def dvc_metrics(repo: Path, env: dict[str, str]) -> dict[str, dict]:
    """``{experiment name: reports/metrics.json}`` of the experiments, from ``dvc exp show --json``."""
    rows = json.loads(run(["dvc", "exp", "show", "--json", "--no-fetch"], repo, env).stdout)
    out: dict[str, dict] = {}

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            name, data = node.get("name"), node.get("data")
            if name and isinstance(data, dict) and data.get("metrics"):
                out[name] = data["metrics"].get("reports/metrics.json", {}).get("data", {})
            for v in node.values():
                visit(v)
        elif isinstance(node, list):
            for v in node:
                visit(v)

    visit(rows)
    return out


def close(a: Any, b: Any) -> bool:
    return isinstance(a, (int, float)) and isinstance(b, (int, float)) and math.isclose(a, b, rel_tol=1e-9,
                                                                                         abs_tol=1e-12)


def check(repo: Path, names: dict[str, str], metrics: dict[str, dict]) -> dict[str, list[str]]:
    """``{experiment name: [problems]}`` (empty: recorded once and complete)."""
    from mlflow.entities import ViewType
    from mlflow.tracking import MlflowClient

    from sdd.report.tracking import PARENT_ID, _key, metric_names

    client = MlflowClient(tracking_uri=f"sqlite:///{repo / 'mlflow.db'}")
    exps = [e for e in client.search_experiments(view_type=ViewType.ALL) if e.name != "Default"]
    exp_names = [e.name for e in exps]
    store_problems = [] if exp_names == ["sdd"] else [f"MLflow experiments {exp_names} (expected ['sdd'])"]
    ids = [e.experiment_id for e in exps]
    runs = client.search_runs(ids, "", run_view_type=ViewType.ALL, max_results=5000)
    by_pipeline = Counter(r.data.tags.get("sdd.pipeline") for r in runs)
    strays = set(by_pipeline) - {"workspace", *names}
    if strays:
        store_problems.append(f"runs of unknown pipelines {sorted(map(str, strays))}")
    if by_pipeline["workspace"] != 3:
        store_problems.append(f"{by_pipeline['workspace']} workspace runs (expected 3)")
    ws_clean = [r.info.run_id for r in runs if r.data.tags.get("sdd.pipeline") == "workspace"
                and r.data.tags.get("sdd.arm") == "clean"]  # fmt: skip

    problems: dict[str, list[str]] = {}
    for name, align in names.items():
        p = problems[name] = list(store_problems)
        mine = [r for r in runs if r.data.tags.get("sdd.pipeline") == name]
        parents = [r for r in mine if r.data.tags.get("sdd.kind") == "pipeline"]
        children = [r for r in mine if r.data.tags.get("sdd.kind") == "arm"]
        if len(parents) != 1 or len(mine) != 3:
            p.append(f"{len(parents)} parent runs, {len(mine)} runs (expected 1 parent + 2 children)")
            continue
        parent = parents[0]
        got = Counter((r.data.tags.get("sdd.arm"), r.data.tags.get("sdd.seed")) for r in children)
        if got != Counter([("main", "0"), ("clean", "0")]):
            p.append(f"children {dict(got)}")
            continue
        want = metrics.get(name)
        if not want:
            p.append("no reports/metrics.json in `dvc exp show`")
            continue
        aggregates = {a: {k: v for k, v in m.items() if k != "seeds"} for a, m in want.items()}
        summary = metric_names({"report": aggregates})  # the parent's names (sdd.report.publish)
        for k, v in summary.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
                if not close(parent.data.metrics.get(k), v):
                    p.append(f"parent metric {k}: {parent.data.metrics.get(k)} != {v}")
        for run_ in [parent, *children]:
            if run_.info.status != "FINISHED":
                p.append(f"{run_.info.run_name}: status {run_.info.status}")
            for key in run_.data.metrics:
                steps = Counter(m.step for m in client.get_metric_history(run_.info.run_id, key))
                twice = [s for s, n in steps.items() if n > 1]
                if twice:
                    p.append(f"{run_.info.run_name}: metric {key} logged twice at steps {twice}")
        for child in children:
            tags, arm = child.data.tags, child.data.tags["sdd.arm"]
            if tags.get(PARENT_ID) != parent.info.run_id:
                p.append(f"{arm}: parent {tags.get(PARENT_ID)} != {parent.info.run_id}")
            if not child.data.params:
                p.append(f"{arm}: no params")
            for eval_set in EVAL_SETS:
                key, value = _key(f"{eval_set}.eer"), want[arm]["seeds"]["0"][eval_set]["eer"]
                if not close(child.data.metrics.get(key), value):
                    p.append(f"{arm}: {key} {child.data.metrics.get(key)} != {value} (DVC)")
            if arm == "main":
                if (tags.get("sdd.train"), tags.get("sdd.evaluate")) != ("logged", "logged"):
                    p.append(f"main: train/evaluate tags {tags.get('sdd.train')}/{tags.get('sdd.evaluate')}")
                if child.data.params.get("align") != align:
                    p.append(f"main: param align {child.data.params.get('align')!r} != {align!r}")
                if not [f for f in client.list_artifacts(child.info.run_id) if f.path == "model"]:
                    p.append("main: no model/ artifact")
            else:
                if tags.get("sdd.cached") != "true" or tags.get("sdd.copied_from") not in ws_clean:
                    cached, source = tags.get("sdd.cached"), tags.get("sdd.copied_from")
                    p.append(f"clean: cached {cached}, copied_from {source} (workspace: {ws_clean})")
    return problems


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=2, help="`dvc queue start -j` (default 2)")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds to wait for the queue")
    ap.add_argument("--keep", action="store_true", help="keep the temporary repo (its path is printed)")
    args = ap.parse_args()

    bin_dir = Path(sys.executable).parent
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DVC_", "MLFLOW_", "SDD_"))}
    env.pop("PYTHONPATH", None)
    env.update(PATH=f"{bin_dir}{os.pathsep}{env['PATH']}", DVC_NO_ANALYTICS="1", HF_HUB_OFFLINE="1",
               OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONPATH=str(REPO))  # fmt: skip
    work = Path(tempfile.mkdtemp(prefix="sdd-queue-"))
    repo = work / "repo"
    repo.mkdir()
    env["PYTHONPATH"] = str(repo)  # the stages import the copy's sdd
    names = {f"q-{a}": a for a in ALIGNS}
    try:
        start = time.perf_counter()
        build(repo, env)
        run(["dvc", "repro"], repo, env)
        repro_s = time.perf_counter() - start
        print(f"dvc repro (workspace): {repro_s:.0f} s", flush=True)
        for name, align in names.items():
            run(["dvc", "exp", "run", "--queue", "-n", name, "-S", f"align={align}"], repo, env)
        t_queue = time.perf_counter()
        run(["dvc", "queue", "start", "-j", str(args.jobs)], repo, env)
        status: dict[str, str] = {}
        while time.perf_counter() - t_queue < args.timeout:
            status = queue_status(repo, env)
            if len(status) == len(names) and all(s in ("Success", "Failed") for s in status.values()):
                break
            time.sleep(10)
        queue_s = time.perf_counter() - t_queue
        print(f"queue of {len(names)} experiments, -j {args.jobs}: {queue_s:.0f} s; {status}", flush=True)
        for name, s in status.items():
            if s != "Success":
                print(run(["dvc", "queue", "logs", name], repo, env, check=False).stdout[-3000:])
        sys.path.insert(0, str(repo))
        problems = check(repo, names, dvc_metrics(repo, env))
        for name in names:
            if status.get(name) != "Success":
                problems[name].insert(0, f"DVC status {status.get(name)}")
        ok = sum(not p for p in problems.values())
        for name, p in problems.items():
            print(f"{name}: {'OK' if not p else '; '.join(p[:6])}")
        print(f"RESULT concurrent_experiments_ok={ok}/{len(names)} queue_seconds={queue_s:.0f} "
              f"total_seconds={time.perf_counter() - start:.0f} jobs={args.jobs}")  # fmt: skip
        return 0 if ok == len(names) else 1
    finally:
        run(["dvc", "queue", "stop"], repo, env, check=False)
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
