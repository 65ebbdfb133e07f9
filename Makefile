# Two commands on a fresh machine: `make run` and `make test`. Everything else is a helper.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV      ?= .venv
PY        := $(VENV)/bin/python
STAMP     := $(VENV)/.installed
STAGE     ?= local
PORT      ?= 4566
API_PORT  ?= 8000
WEB_PORT  ?= 5173
REGION    ?= ap-south-1
AT        ?=
PYTEST_ARGS ?=
# Test processes: most integration tests wait on real-speed clocks (a firer sleeping to T, brokers
# polled), so two workers overlap the waiting; each worker has its own emulator and infra apply.
# Whole files go to one worker (module fixtures stay together).
PYTEST_WORKERS ?= 2

.PHONY: help venv run reset test test-ambient web-test lint format unit integration emulator emulator-stop infra-local package bootstrap deploy bench clean demo

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(STAMP): requirements.txt requirements-dev.txt requirements-sdk.txt
	@test -x $(PY) || python3.11 -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet 'pip>=23,<26.3'
	$(PY) -m pip install --quiet -r requirements-dev.txt -r requirements-sdk.txt
	@touch $(STAMP)

venv: $(STAMP) ## create the virtualenv under the repo and install pinned dependencies

run: $(STAMP) ## run the platform locally: emulator on PORT (4566), API on API_PORT (8000), web app on WEB_PORT (5173); AT=<IST instant> shifts the clock
	$(PY) -m localdev.run --emulator-port $(PORT) --api-port $(API_PORT) --web-port $(WEB_PORT) --region $(REGION) $(if $(AT),--at '$(AT)')

reset: $(STAMP) ## wipe what `make run` on PORT keeps (platform and simulated exchange, together)
	$(PY) -m localdev.run --reset --emulator-port $(PORT)

lint: $(STAMP) ## ruff lint + format check, terraform fmt check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	@if command -v terraform >/dev/null; then terraform fmt -check -recursive infra; fi

format: $(STAMP) ## apply ruff format and fixes
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .
	@if command -v terraform >/dev/null; then terraform fmt -recursive infra; fi

test: $(STAMP) lint ## the whole suite (unit + emulator integration, the clock-sensitive tests at four instants) with coverage, then the web app's tests
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadfile --cov=chalicelib --cov=app --cov-report=term --cov-fail-under=90 --durations=30 $(PYTEST_ARGS)
	@$(MAKE) --no-print-directory web-test

test-ambient: $(STAMP) ## only the date- and hour-sensitive tests, at the ambient instant and each of tests/conftest.py PINNED_INSTANTS
	$(PY) -m pytest -q -m ambient_time -p no:cacheprovider $(PYTEST_ARGS)

CHROMIUM ?= /usr/bin/chromium
web-test: $(STAMP) ## the web app: npm ci, types from /openapi.json, lint, typecheck, vitest, build, e2e in headless Chromium
	@test -x $(CHROMIUM) || (echo "== installing Debian's chromium for the e2e tests" && \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)
	@command -v npm >/dev/null || (echo "web-test: npm (Node.js 20+) is needed" && exit 1)
	@start=$$(date +%s); cd web && npm ci --no-audit --no-fund && npm run openapi && npm run lint && \
	  npm run typecheck && npm test && npm run build && rm -f ../.run/e2e-stack.log && \
	  { CHROMIUM=$(CHROMIUM) PYTHON=$(abspath $(PY)) npm run e2e || \
	    { echo "== the stack's last output (.run/e2e-stack.log)"; tail -n 80 ../.run/e2e-stack.log; exit 1; }; } && \
	  echo "== web-test took $$(( $$(date +%s) - start )) s"

unit: $(STAMP) ## unit tests only (no emulator)
	$(PY) -m pytest tests/unit -q $(PYTEST_ARGS)

integration: $(STAMP) ## integration tests only (starts its own emulator)
	$(PY) -m pytest tests/integration -q $(PYTEST_ARGS)

emulator: $(STAMP) ## start the embedded AWS emulator in the background on $(PORT)
	$(PY) -m localdev.emulator start --port $(PORT)

emulator-stop: ## stop the background emulator
	$(PY) -m localdev.emulator stop --port $(PORT)

infra-local: $(STAMP) ## apply infra/ to the emulator on $(PORT)
	$(PY) -m localdev.terraform apply --stage local --endpoint http://127.0.0.1:$(PORT) --region $(REGION)

package: $(STAMP) ## chalice package --pkg-format terraform into infra/chalice, patched
	$(PY) -m localdev.package --stage $(STAGE)

bootstrap: $(STAMP) ## once per AWS account and region: the S3 bucket (versioned, encrypted, locked) for AWS stages' Terraform state
	$(PY) -m localdev.remote_state --region $(REGION)

deploy: package ## package and terraform apply to AWS (STAGE=dev|prod, state in S3: `make bootstrap` first) or the emulator (STAGE=local)
	$(PY) -m localdev.deploy --stage $(STAGE) --region $(REGION) --emulator-port $(PORT)

bench: $(STAMP) ## run the benchmarks; figures go to bench/results/*.json
	@for script in bench/bench_*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

clean: ## remove local state (emulator logs, terraform state for emulator stages); AWS stages' state is in S3, untouched
	rm -rf .run .pytest_cache .coverage infra/chalice infra/app.tf infra/backend.tf

demo: $(STAMP) ## a demo trader, two fake-broker accounts, an iron condor at the next minute: entry, fills, exit
	$(PY) -m localdev.demo --emulator-port $(PORT) --region $(REGION) $(if $(AT),--at '$(AT)')
