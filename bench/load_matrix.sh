#!/usr/bin/env bash
# Load-test matrix: 20 sessions of the fixture with real Whisper at concurrency 1, 2, 4 and with two
# workers, each on a fresh PostgreSQL database (needs createdb/psql as user postgres on 127.0.0.1,
# Redis on 127.0.0.1:6379, db 7 is flushed). Prints the load test output and per-session RTF.
set -u
cd "$(dirname "$0")/.."
BIN=.venv/bin
export REDIS_URL=redis://127.0.0.1:6379/7 STT_PROVIDER=whisper SWEEPER_INTERVAL_SECONDS=10
run_case() {
  name=$1; shift
  db=bench_$name
  dropdb -h 127.0.0.1 -U postgres --if-exists $db; createdb -h 127.0.0.1 -U postgres $db
  export DATABASE_URL=postgresql://postgres@127.0.0.1:5432/$db
  redis-cli -n 7 flushdb >/dev/null
  $BIN/coaching-assistant migrate >/dev/null 2>&1
  KEY=$($BIN/coaching-assistant create-user bench-$name@example.com | tail -1)
  $BIN/uvicorn coaching_assistant.api.main:app --host 127.0.0.1 --port 8100 > /tmp/bench-$name-api.log 2>&1 &
  api=$!
  pids=()
  for spec in "$@"; do
    host=${spec%%:*}; conc=${spec##*:}
    WHISPER_NUM_WORKERS=$conc $BIN/celery -A coaching_assistant.core.celery_app worker --loglevel=info \
      --concurrency=$conc --pool=threads --hostname=$host@%h > /tmp/bench-$name-$host.log 2>&1 &
    pids+=($!)
  done
  for spec in "$@"; do host=${spec%%:*}; until grep -q "ready." /tmp/bench-$name-$host.log; do sleep 1; done; done
  echo "=== $name ($*)"
  COACHING_API_KEY=$KEY python3 scripts/load_test_celery.py --sessions 20 --server http://127.0.0.1:8100 2>&1 | grep -v "/20 finished"
  curl -s http://127.0.0.1:8100/metrics | grep -E "^coaching_(realtime_factor|transcription_duration_seconds_(sum|count)|transcribed_audio_seconds_sum)"
  psql -h 127.0.0.1 -U postgres -d $db -Atc "select round(min(extract(epoch from completed_at-started_at)/duration_seconds)::numeric,3), round(avg(extract(epoch from completed_at-started_at)/duration_seconds)::numeric,3), round(max(extract(epoch from completed_at-started_at)/duration_seconds)::numeric,3), sum(attempts) from session where status='completed'" | sed 's/^/per-session RTF min|avg|max, attempts: /'
  kill -TERM "${pids[@]}"; wait "${pids[@]}" 2>/dev/null
  kill -TERM $api; wait $api 2>/dev/null
  dropdb -h 127.0.0.1 -U postgres --if-exists $db
}
# CASES="c2" bash bench/load_matrix.sh runs only some of them.
for case in ${CASES:-c1 c2 c4 two}; do
  case $case in
    c1) run_case c1 worker1:1 ;;
    c2) run_case c2 worker1:2 ;;
    c4) run_case c4 worker1:4 ;;
    two) run_case two worker1:1 worker2:1 ;;
  esac
done
