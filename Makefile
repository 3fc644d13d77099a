# The two commands the README promises: `make demo` and `make test`. Both set up what they need.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup deps demo test lint unit bench-deps bench clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $@

setup: $(VENV)/.installed

# System parts the integration tests and the demo run for real: BIND9, iproute2, kube-apiserver +
# etcd, helm, Traefik (scripts/install-deps; the binaries are built once into ~/.cache).
deps: setup
	scripts/install-deps

demo: deps
	$(PY) -m e2e.demo

lint: setup
	scripts/lint

unit: setup
	$(VENV)/bin/pytest -m "not integration and not e2e" -q

test: deps
	scripts/lint
	$(VENV)/bin/pytest -q

# Benchmarks against external-dns v0.23.0 (not part of `make test`; `deps` builds the peer):
# see bench/README.md.
bench-deps: deps
	$(VENV)/bin/pip install -q -e '.[dev,bench]'

bench: bench-deps
	$(PY) -m bench.run

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
