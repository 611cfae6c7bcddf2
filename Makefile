# Two commands do all the set-up:  `make demo`  and  `make test`.
# Each creates .venv and installs what it needs (the CPU build of torch on a machine
# without an NVIDIA GPU; see scripts/install_torch.py).

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
OUT ?= demo-output
MIN_VENV ?= .venv-min

.PHONY: demo test test-fast test-min lint bench bench-smoke clean venv

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements.txt requirements-dev.txt requirements-app.txt scripts/install_torch.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) scripts/install_torch.py
	$(PY) -m pip install -q -e ".[dev,app]"
	touch $@

$(VENV)/.teacher: $(VENV)/.installed requirements-teacher.txt
	$(PY) -m pip install -q -e ".[teacher]"
	touch $@

demo: venv $(VENV)/.teacher
	$(VENV)/bin/arxiv-reco demo --out $(OUT)

# The tests run against the package as installed (a wheel, not the checkout): -P keeps the
# working folder off sys.path, and the package is reinstalled from the current tree first.
test: venv
	$(PY) -m pip install -q --no-deps --force-reinstall .
	$(PY) -P -m pytest -q
	$(PY) -m pip install -q --no-deps -e .

# The loop while you edit (under a minute on 2 cores): every test but those that load a real model,
# drive strace or a browser, or execute the notebooks, each skipped where it would start. CI runs all.
test-fast: venv
	ARXIV_RECO_FAST_TESTS=1 $(PY) -P -m pytest -q -p no:cacheprovider

# The lowest declared versions of the direct dependencies (requirements.txt's ">=" read as "=="),
# with the fast loop (every test that needs no real model, strace, browser or notebook) and a real
# model loaded and encoding: CI proves the floors are true. torch stays the machine's build.
test-min:
	rm -rf $(MIN_VENV) && $(PYTHON) -m venv $(MIN_VENV)
	$(MIN_VENV)/bin/python scripts/install_torch.py
	sed -E 's/>=/==/' requirements.txt | grep -v '^torch' > $(MIN_VENV)/floors.txt
	$(MIN_VENV)/bin/python -m pip install -q -r $(MIN_VENV)/floors.txt
	$(MIN_VENV)/bin/python -m pip install -q --no-deps .
	sed -E 's/\[[a-z,]+\]//' $(MIN_VENV)/floors.txt > $(MIN_VENV)/constraints.txt  # constraints take no extras
	$(MIN_VENV)/bin/python -m pip install -q -r requirements-dev.txt -c $(MIN_VENV)/constraints.txt
	$(MIN_VENV)/bin/python -m pip check
	ARXIV_RECO_FAST_TESTS=1 $(MIN_VENV)/bin/python -P -m pytest -q -m "not slow" -p no:cacheprovider
	$(MIN_VENV)/bin/python -P -c "from arxiv_reco import load_model; \
	  assert load_model('sentence-transformers/all-MiniLM-L6-v2').encode(['a paper']).shape == (1, 384)"

lint: venv
	$(VENV)/bin/ruff check .

# The product benchmarks (docs/benchmarks.md, docs/quality.md have their figures); each takes
# minutes to hours. bench-smoke runs every one at a tiny size: CI proves they still run.
BENCHES := loader labeling encode recommend feed audit quality
bench: venv $(VENV)/.teacher
	for b in $(BENCHES); do $(PY) bench/$$b.py || exit 1; done

bench-smoke: venv
	for b in $(BENCHES); do echo "bench/$$b.py --smoke"; $(PY) bench/$$b.py --smoke > /dev/null || exit 1; done

clean:
	rm -rf $(VENV) $(MIN_VENV) $(OUT) .pytest_cache build *.egg-info
