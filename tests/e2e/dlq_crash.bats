#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# dtbus dlq under SIGKILL: pull and recover are killed at random moments and rerun until done;
# every dead letter must reach its original topic at least once and none may stay pending.

load helpers/common

setup() {
  dtbus_isolate_env
  broker_start main
  # SIGKILL does not lose the page cache, so fsync speed is irrelevant to what this test proves;
  # a tmpfs spool keeps thousands of per-message fsyncs fast on slow CI disks.
  if [[ -d /dev/shm && -w /dev/shm ]]; then
    SHM_STATE=$(mktemp -d /dev/shm/dtbus-dlq-crash.XXXXXX)
    export XDG_STATE_HOME=$SHM_STATE
  fi
  SPOOL=$XDG_STATE_HOME/dtbus/dlq/main.jsonl
  write_config "$XDG_CONFIG_HOME/dtbus/brokers.yaml" <<EOF
brokers:
  main:
    type: mqtt
    config: {host: 127.0.0.1, port: $BROKER_MAIN_PORT}
    dlq: {topic: "crash/dlq/#", client_id: dtbus-dlq-crash}
default_broker: main
EOF
}

teardown() {
  local rc=0
  cleanup_all || rc=$? # includes the secrets audit of the /dev/shm spool
  [[ -z ${SHM_STATE:-} ]] || rm -rf "$SHM_STATE"
  return "$rc"
}

# publish_dead_letters FROM TO — DLQ messages whose payloads are {"i":FROM}..{"i":TO}.
publish_dead_letters() {
  "$DTBUS_PYTHON" -c '
import sys
for i in range(int(sys.argv[1]), int(sys.argv[2]) + 1):
    print("{\"original_topic\":\"crash/orig/%d\",\"failure_reason\":\"boom\",\"failure_timestamp\":\"2024-05-01T00:00:00Z\",\"payload\":{\"i\":%d}}" % (i % 7, i))
' "$1" "$2" | mosquitto_pub -p "$BROKER_MAIN_PORT" -q 1 -t crash/dlq/x -l
}

distinct_delivered() { sort -u "$WATCH_OUT" | grep -c '^{"i":' || true; }

@test "SIGKILL at random moments of pull and recover: rerun delivers every entry, none left pending" {
  local total=3000 per_trial=50 trials=12 t delay rc pending
  run -0 dtbus dlq attach
  # A durable subscriber on every original topic counts what recover delivers.
  bg_start WATCH mosquitto_sub -p "$BROKER_MAIN_PORT" -q 1 -c -i crash-watch -t 'crash/orig/#'
  broker_wait_subscribed main 'crash/orig/#'
  publish_dead_letters 1 "$total"

  for ((t = 1; t <= trials; t++)); do
    # New dead letters while nobody is attached, so the pull has work when the kill comes.
    publish_dead_letters $((total + 1)) $((total + per_trial))
    total=$((total + per_trial))
    delay=$(printf '%d.%03d' $((RANDOM % 2)) $((RANDOM % 1000)))
    bg_start REC dtbus dlq recover --rate 400 -o json
    sleep "$delay"   # the random moment of the crash is what is tested here
    kill -KILL "$REC" 2>/dev/null || true
    rc=0
    bg_wait REC 10 || rc=$?
    echo "# trial $t: killed after ${delay}s (exit $rc), $(distinct_delivered) distinct delivered" >&3
  done

  # Rerun (no kill) until it reports success; each run makes progress.
  for t in 1 2 3 4 5; do
    run --separate-stderr dtbus dlq recover -o json
    echo "# rerun $t: exit $status $output" >&3
    ((status == 0)) && break
  done
  assert_success
  run -0 dtbus dlq list -o json
  pending=${#lines[@]}
  [[ -z $output ]] || fail "$pending entries still pending"

  # The spool holds every dead letter (perhaps twice, when a kill fell between journal and PUBACK).
  run -0 bash -c "dtbus dlq list --no-pull --all -o json | grep -o '\"payload\":{\"i\":[0-9]*}' | sort -u | wc -l"
  assert_output "$total"
  wait_until 30 test "$(distinct_delivered)" -ge "$total"
  run -0 distinct_delivered
  assert_output "$total"
  echo "# $total dead letters, $(grep -c . "$WATCH_OUT") deliveries (duplicates allowed, no loss)" >&3
}
