# Two commands do all the set-up:  `make demo`  and  `make test`.
# Each creates .venv and installs what it needs (the CPU build of torch on a machine
# without an NVIDIA GPU; see scripts/install_torch.py).

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
OUT ?= demo-output

.PHONY: demo test lint bench clean venv

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements.txt requirements-dev.txt scripts/install_torch.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) scripts/install_torch.py
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

$(VENV)/.teacher: $(VENV)/.installed requirements-teacher.txt
	$(PY) -m pip install -q -e ".[teacher]"
	touch $@

demo: venv $(VENV)/.teacher
	$(VENV)/bin/arxiv-reco demo --out $(OUT)

test: venv
	$(PY) -m pytest -q

lint: venv
	$(VENV)/bin/ruff check .

bench: venv
	$(PY) bench/loader.py

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache build *.egg-info
