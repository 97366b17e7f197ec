# Two commands do everything: `make book` and `make test`. Each creates .venv on demand.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
VENDOR_JS := _vendor/mathjax/tex-chtml.js
FASHION_MNIST := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz

.PHONY: book test lint exercises data vendor clean

$(INSTALLED): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $@

# The widgets' JavaScript and MathJax, served by the book itself so pages work offline.
# They come from the npm registry at build time (about 40 MB: never committed).
$(VENDOR_JS):
	bash tools/vendor_js.sh _vendor

vendor: $(VENDOR_JS)

# Fashion-MNIST for the chapters that train on it (Debian package; skipped without apt).
# Not fatal: the tests use a small copy they write themselves.
data:
	@if [ -f "$(FASHION_MNIST)" ]; then :; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist) \
		|| echo "note: could not install dataset-fashion-mnist"; \
	else echo "note: Fashion-MNIST not installed (sudo apt-get install dataset-fashion-mnist)"; fi

book: $(INSTALLED) $(VENDOR_JS)
	$(BIN)/jupyter-book build . -W -n --keep-going
	@echo "Open _build/html/index.html"

test: $(INSTALLED) $(VENDOR_JS) data
	$(BIN)/python -m pytest

lint: $(INSTALLED)
	$(BIN)/ruff check .

exercises: $(INSTALLED)
	$(BIN)/python -m cnnbook.grading.generate

clean:
	rm -rf _build _vendor $(VENV)
