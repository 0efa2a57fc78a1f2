# The two commands a new user runs: `make repro` and `make test` (`make lint` runs the linter, `make docs`
# builds the documentation site). All
# create .venv/ from the pinned lock file when it is missing or older than the lock (that is all
# `make setup` does).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
STAMP := $(VENV)/.sdd-installed
# The template of `dvc plots show` named by .dvc/config: Vega inline, no CDN (docs/experiments.md).
PLOTS_TEMPLATE := .sdd/dvc_plots.html
PIP := $(VENV)/bin/pip --disable-pip-version-check -q
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
# Fixed thread counts: same params + same seed -> same scores, bit for bit on CPU.
export OMP_NUM_THREADS ?= 2
export MKL_NUM_THREADS ?= 2
# No telemetry calls home from the tools (the machine has no internet anyway).
export DVC_NO_ANALYTICS := 1
export HF_HUB_OFFLINE ?= 1
export MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR := false

.PHONY: setup repro test test-fast test-team lint docs mlflow-ui mlflow-server mlflow-server-stop plots exp-show \
	clean-venv

setup: $(STAMP) $(PLOTS_TEMPLATE)

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; v = sys.version_info[:3]; sys.exit(None if v >= (3, 11, 4) else \
		f"sdd needs Python >= 3.11.4 (tarfile extraction filters, PEP 706); {sys.executable} is " \
		f"{sys.version.split()[0]}: run make with PYTHON=/path/to/python3.11")'
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	# One pip call resolves torch and everything else together (see docs/dependencies.md).
	$(PIP) install -r requirements.lock
	$(PIP) install --no-deps --no-build-isolation -e .
	@touch $(STAMP)

# Written with the environment (every target runs setup), so a plain `dvc plots show` draws offline.
$(PLOTS_TEMPLATE): $(STAMP) sdd/report/plots_html.py
	python -m sdd.report.plots_html $(PLOTS_TEMPLATE)

repro: setup
	dvc repro

# `dvc plots show` offline (docs/experiments.md, "Plots"): every plot of dvc.yaml into dvc_plots/index.html
# (git-ignored), drawn by the Vega bundle inside the template that .dvc/config names (setup writes it).
plots: setup
	dvc plots show

# `dvc exp show`, readable (docs/experiments.md, "Comparing experiments"): each arm's EER per eval set, the
# top-level toggles and the params that differ between the experiments shown; no dependency hashes, no
# other metric. EXP_EVAL and EXP_ARMS (regexes) narrow it to fit a terminal, e.g.
# `make exp-show EXP_EVAL=demo:eval EXP_ARMS='main|clean|dual_path_pcgrad'`; EXP_SHOW_ARGS adds flags
# (`-A`, `--md`, `--csv`, `--sort-by ...`).
EXP_EVAL ?= [^.]+
EXP_ARMS ?= [^.]+
EXP_SHOW_FLAGS = --only-changed --keep '(corpus|backbone|align|lora|regime|seeds)$$' \
	--drop '.*/' --drop '.*:.*(?<!\.eer)$$' --drop '[^.]+\.(seeds|train)\.' --drop 'probing\.' \
	--drop '[^.]+\.(?!($(EXP_EVAL))\.eer$$)[^.]+:' --drop '(?!($(EXP_ARMS))\.)[^.]+\.[^.]+:'
exp-show: setup
	dvc exp show $(EXP_SHOW_FLAGS) $(EXP_SHOW_ARGS)

# Everything but the team lane (below).
test: setup
	pytest -q -m "not team"

# Everything but the `slow` tests (end to end, kills, the full demo corpus, several processes) and the
# team lane: about 2 min instead of 11 (docs/tests.md).
test-fast: setup
	pytest -q -m "not slow and not team"

# The team lane (docs/tests.md, its own time budget): the tests marked `team`, which rehearse on
# 127.0.0.1 what a lab of several machines does (docs/team.md): multi-node torchrun, an MLflow server on
# PostgreSQL, two hosts sharing git and DVC remotes, a served MLflow model, the ONNX export. CI runs it
# after `make test`.
test-team: setup
	pytest -q -m team

# ruff (pinned in requirements.lock); its rules are in pyproject.toml, [tool.ruff].
lint: setup
	ruff check sdd stages tests benchmarks

# The documentation site (mkdocs.yml, pages in docs/) into site/ (git-ignored). --strict: a broken link
# between pages, an unknown #anchor or a page missing from the nav fails the build (CI runs this). Not
# --quiet: it drops the warnings before --strict counts them, so a broken link would pass.
docs: setup
	NO_MKDOCS_2_WARNING=1 mkdocs build --strict

# MLflow 3.17's UI opens on its GenAI pages unless the address says otherwise: open the printed one
# (the runs table in the report's saved view: each arm and seed's EERs; docs/report.md).
mlflow-ui: setup
	@python -c "from sdd.report.tracking import ui_url; print('open', ui_url($${PORT:-5000}))"
	mlflow ui --workers 1 --host 127.0.0.1 --port $${PORT:-5000} \
		--backend-store-uri sqlite:///$(CURDIR)/mlflow.db --default-artifact-root $(CURDIR)/mlartifacts

# A team's MLflow (docs/team.md, "A shared MLflow server"): a throwaway PostgreSQL cluster under
# .sdd/mlflow-server/ (Debian's postgresql; run as the `postgres` user when make runs as root) and `mlflow
# server` on it, both on 127.0.0.1; prints the MLFLOW_TRACKING_URI to export. PORT / PG_PORT choose the ports.
mlflow-server: setup
	python -m sdd.report.mlflow_server start --port $${PORT:-5001} --pg-port $${PG_PORT:-15432}

mlflow-server-stop: setup
	python -m sdd.report.mlflow_server stop

clean-venv:
	rm -rf $(VENV)
