# Two commands do everything on a fresh machine:
#   make lab    create/refresh .venv, then start JupyterLab on the start page (127.0.0.1, token auth);
#               `make lab-zh` opens the Chinese edition's start page (中文版) instead
#   make test   create/refresh .venv (and Debian's chromium and npm for the browser tests and
#               the static site, if missing), then run everything: lint, unit, notebooks,
#               hygiene, browser, Binder, static site (offline, in Chromium)

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# The browser tests drive Debian's Chromium through Playwright (never Playwright's own download).
CHROMIUM := /usr/bin/chromium
# The static site (make html, and its tests) bundles MathJax and the widget renderer with npm
# from the npm registry at build time; any npm on the PATH will do, else Debian's.
NPM := $(shell command -v npm 2>/dev/null || echo /usr/bin/npm)

.PHONY: install browser lab lab-zh test lint format nav html bench clean

# Re-install only when a pin or the package metadata changes.
$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@# requirements.txt names PyTorch's CPU wheel index, which pip asks about every package. Where
	@# it cannot be reached, pip's 5 default retries cost ~8 s a package (14 min for the series) and
	@# print a wall of warnings; with --retries 0 pip falls back to PyPI and local wheels at once.
	$(PY) -m pip install --quiet --retries 0 -r requirements.txt -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	@# CPU only: fail loudly if a CUDA wheel sneaked in.
	@! $(PY) -m pip list 2>/dev/null | grep -iE '^(nvidia|cuda|triton)' || (echo "CUDA packages installed; check the pins" && exit 1)
	touch $(STAMP)

install: $(STAMP)

# Installed once; as root on a fresh Debian machine (CI), otherwise through sudo.
$(CHROMIUM):
	@echo "Installing Debian's chromium for the browser tests (apt-get)..."
	@SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	$$SUDO apt-get update -qq && \
	DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium > /dev/null
	@test -x $(CHROMIUM)

# A small Chinese font, so the browser tests render the Chinese edition (and its screenshots
# show characters, not boxes). Learners' systems have their own CJK fonts.
CJK_FONT := /usr/share/fonts/truetype/wqy/wqy-microhei.ttc
$(CJK_FONT):
	@echo "Installing Debian's fonts-wqy-microhei for the Chinese edition's browser tests (apt-get)..."
	@SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	$$SUDO apt-get update -qq && \
	DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq fonts-wqy-microhei > /dev/null
	@test -f $(CJK_FONT)

browser: $(CHROMIUM) $(CJK_FONT)

$(NPM):
	@echo "Installing Debian's npm for the static site (apt-get)..."
	@SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	$$SUDO apt-get update -qq && \
	DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq npm > /dev/null
	@test -x $(NPM)

# Opens the learners' start page (START, relative to notebooks/). Jupyter refuses to run as
# root without --allow-root (containers, CI machines); auth stays on.
START ?= 00_start_here.ipynb
lab: install
	$(VENV)/bin/jupyter lab --ServerApp.ip=127.0.0.1 --no-browser --ServerApp.root_dir=notebooks \
		--LabApp.default_url=/lab/tree/$(START) \
		$$([ "$$(id -u)" = 0 ] && echo --allow-root)

# The Chinese edition: the same JupyterLab, opened on notebooks/zh/00_start_here.ipynb.
lab-zh: START = zh/00_start_here.ipynb
lab-zh: lab

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

test: lint $(CHROMIUM) $(CJK_FONT) $(NPM)
	$(PY) -m pytest

format: install
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

nav: install
	$(PY) -m scripts.nav

html: install $(NPM)
	$(PY) -m scripts.render_html

bench: install
	$(PY) -m benchmarks.run
	$(PY) -m benchmarks.matmul

clean:
	rm -rf $(VENV) build artifacts .pytest_cache .ruff_cache
