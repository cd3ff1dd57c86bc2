#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Fault injection: ending early. A reader that stops (`| head -1`) ends the streaming commands
# quietly with exit 0 (SIGPIPE ignored, EPIPE handled) — sub, dlq list, dlq recover --dry-run,
# replay --dry-run — with nothing on stderr and nothing changed (the spool keeps its entries, a
# dry run publishes nothing). The outputs are larger than a pipe buffer, so the write really meets
# the closed pipe. A closed stdout never hides a failure: a command whose delivery failed still
# exits 7 (config test 3 or 4) when its summary cannot be written. And a durable `sub --session`
# ended by -C or --retained-only leaves what comes after the end with the broker: nothing lost.
# (`dtbus sub | head -1` with three messages is in sub.bats.)

load helpers/common
load faults_common

setup_file() {
  dtbus_isolate_env
  broker_start main
}

teardown_file() { cleanup_all; }

setup() {
  dtbus_isolate_env
  T=fp$BATS_TEST_NUMBER
  faults_config
  spool_on_tmpfs
}

teardown() { faults_teardown; }

# dead_letters N: N DLQ bodies with long reasons on $T/dlq/x (about 300 bytes each as JSON).
dead_letters() {
  "$DTBUS_PYTHON" -c '
import sys
n, t = int(sys.argv[1]), sys.argv[2]
for i in range(1, n + 1):
    print("{\"original_topic\":\"%s/orig/%d\",\"failure_reason\":\"%s\",\"payload\":{\"i\":%d}}" % (t, i, "schema error " * 12, i))
' "$1" "$T" | mosquitto_pub -p "$BROKER_MAIN_PORT" -q 1 -t "$T/dlq/x" -l
}

# closed_early CMD... — runs `CMD | head -1`; sets status (CMD's exit status), output (the one
# line) and stderr (CMD's stderr).
closed_early() {
  local err=$BATS_TEST_TMPDIR/closed-early.err
  output=$("$@" 2>"$err" | head -1; exit "${PIPESTATUS[0]}")
  status=$?
  stderr=$(cat "$err")
}

@test "dtbus dlq list | head -1 (JSON and table, 600 kB): exit 0, quiet, the spool unchanged" {
  run -0 dtbus dlq attach
  dead_letters 2000
  closed_early dtbus dlq list -o json
  assert_equal "$status" 0
  assert_equal "$stderr" ""
  [[ $output == '{"id":"'*'"payload":{"i":1}'* ]] || fail "$output"
  COLUMNS=200 closed_early dtbus dlq list --no-pull
  assert_equal "$status" 0
  assert_equal "$stderr" ""
  [[ $output == "ID "*"REASON"*"SENDS" ]] || fail "$output"
  run -0 bash -c "dtbus dlq list --no-pull -o json | wc -l"
  assert_output 2000
}

@test "dtbus dlq recover --dry-run | head -1: exit 0, quiet, nothing published or marked" {
  run -0 dtbus dlq attach
  dead_letters 2000
  bg_start WATCH mosquitto_sub -p "$BROKER_MAIN_PORT" -q 1 -t "$T/orig/#"
  broker_wait_subscribed main "$T/orig/#"
  closed_early dtbus dlq recover --dry-run -o json
  assert_equal "$status" 0
  assert_equal "$stderr" ""
  [[ $output == '{"id":"'*'"topic":"'"$T/orig/1"'"'* ]] || fail "$output"
  closed_early dtbus dlq recover --dry-run --no-pull
  assert_equal "$status" 0
  assert_equal "$stderr" ""
  [[ $output == "would publish "* ]] || fail "$output"
  run -0 bash -c "dtbus dlq list --no-pull -o json | wc -l"
  assert_output 2000
  mosquitto_pub -p "$BROKER_MAIN_PORT" -q 1 -t "$T/orig/sync" -m sync
  wait_for_line "$WATCH_OUT" "^sync$"
  assert_equal "$(cat "$WATCH_OUT")" sync # the dry runs published nothing
}

@test "dtbus replay --dry-run | head -1 (5000 topics): exit 0, quiet, nothing published" {
  "$DTBUS_PYTHON" -c '
import json, sys
for i in range(5000):
    print(json.dumps({"topic": "%s/r/%05d" % (sys.argv[1], i), "payload": i, "ts": 1795423048000 + i}))' "$T" >rec.jsonl
  closed_early dtbus replay --dry-run rec.jsonl
  assert_equal "$status" 0
  assert_equal "$stderr" ""
  assert_equal "$output" "dry run: 5000 of 5000 records would be published to 5000 topics"
}

@test "dtbus sub --session -o json | head -1 while a QoS 1 stream flows: exit 0, quiet" {
  bg_start FEED bash -c "seq 1 20000 | exec dtbus pub -t $T/s -l -q 1 --rate 5000"
  closed_early dtbus sub --session "$T-s" -t "$T/s" -q 1 -o json
  assert_equal "$status" 0
  assert_equal "$stderr" ""
  [[ $output == "{\"topic\":\"$T/s\","* ]] || fail "$output"
  run -0 bg_wait FEED 30
}

@test "sub --session -C 500, four times while a backlog and a live QoS 1 stream flow: exactly 500 each, nothing lost" {
  run -6 dtbus sub --session "$T-c" -t "$T/c" -q 1 -W 0.3 # attach: the broker queues from now on
  seq 1 6000 >in.txt
  head -3000 in.txt | dtbus pub -t "$T/c" -l -q 1 # a backlog queued for the session
  bg_start FEED bash -c "tail -n +3001 in.txt | exec dtbus pub -t $T/c -l -q 1 --rate 2000"
  local round # (not `i`: bats' run uses it)
  for round in 1 2 3 4; do
    run -0 --separate-stderr dtbus sub --session "$T-c" -t "$T/c" -q 1 -C 500 -F '{payload}'
    assert_equal "${#lines[@]}" 500
    assert_equal "$stderr" ""
    printf '%s\n' "${lines[@]}" >"got-$round.txt"
  done
  run -0 bg_wait FEED 30
  bg_start S dtbus sub --session "$T-c" -t "$T/c" -q 1 -F '{payload}'
  wait_until 30 all_delivered in.txt got-*.txt "$S_OUT" || true # else account names them
  bg_stop S INT
  account in.txt --got got-1.txt --got got-2.txt --got got-3.txt --got got-4.txt --got "$S_OUT" \
    --label "sub --session -C 500 four times, then the rest"
}

@test "sub --session --retained-only: the live message that ends it stays queued for the session" {
  mosquitto_pub -p "$BROKER_MAIN_PORT" -t "$T/r/kept" -q 1 -r -m kept
  run -0 dtbus sub --session "$T-r" -t "$T/r/#" -q 1 --retained-only -W 2 -F '{payload}'
  assert_output kept
  mosquitto_pub -p "$BROKER_MAIN_PORT" -t "$T/r/live" -q 1 -m live # queued for the session
  run -0 dtbus sub --session "$T-r" -t "$T/r/#" -q 1 --retained-only -W 5 -F '{payload}'
  assert_output "" # the session's queued live message came first: the end, not printed
  run -0 dtbus sub --session "$T-r" -t "$T/r/#" -q 1 --no-retained -C 1 -W 5 -F '{payload}'
  assert_output live
  mosquitto_pub -p "$BROKER_MAIN_PORT" -t "$T/r/kept" -r -n
}

# closed_stdout CMD... — runs CMD with stdout a pipe whose reader is already gone; CMD's status.
closed_stdout() {
  "$DTBUS_PYTHON" -c '
import os, subprocess, sys
r, w = os.pipe()
os.close(r)
sys.exit(subprocess.call(sys.argv[1:], stdout=w))' "$@"
}

@test "a closed stdout does not hide a failure: config test still exits 3 and 4" {
  write_config bad.yaml <<EOF
brokers:
  main: {type: mqtt, config: {host: 127.0.0.1, port: nope}}
EOF
  run -3 closed_stdout dtbus -c bad.yaml config test
  run -3 closed_stdout dtbus -c bad.yaml config test -o json
  write_config down.yaml <<EOF
brokers:
  main: {type: mqtt, config: {host: 127.0.0.1, port: $(free_port)}}
default_broker: main
EOF
  run -4 closed_stdout dtbus -c down.yaml config test --connect
}

@test "a closed stdout does not hide a failure: pub, replay and dlq recover still exit 7" {
  run -0 dtbus dlq attach
  dead_letters 20
  run -0 dtbus dlq list -o json # spooled: recover --no-pull has them
  seq 1 20 >in.txt
  "$DTBUS_PYTHON" -c '
import json
for i in range(20):
    print(json.dumps({"topic": "x/r", "payload": i, "ts": 1795423048000 + i}))' >rec.jsonl
  # All three connect first; then the broker hangs (SIGSTOP); then pub and replay get their
  # input; recover sends 5 per second. Each gives up after --timeout 1 and prints its summary
  # into a pipe whose reader (`true`) is gone.
  bg_start PUB bash -c "(until [ -e go ]; do sleep 0.05; done; cat in.txt) | dtbus pub -i $T-pub -t $T/p -l -q 1 --timeout 1 --failed-out failed-pub.jsonl -o json | true; exit \${PIPESTATUS[1]}"
  bg_start REPLAY bash -c "(until [ -e go ]; do sleep 0.05; done; cat rec.jsonl) | dtbus replay -i $T-replay --speed 0 --timeout 1 --failed-out failed-replay.jsonl -o json | true; exit \${PIPESTATUS[1]}"
  bg_start RECOVER bash -c "dtbus dlq recover -i dtbus-dlq-$T --no-pull --rate 5 --timeout 1 -o json | true; exit \${PIPESTATUS[0]}"
  wait_for_line "$BROKER_MAIN_LOG" "as $T-pub "
  wait_for_line "$BROKER_MAIN_LOG" "as $T-replay "
  wait_for_line "$BROKER_MAIN_LOG" "as dtbus-dlq-$T-pub-"
  broker_pause main
  touch go
  local rc_pub=0 rc_replay=0 rc_recover=0
  bg_wait PUB 20 || rc_pub=$?
  bg_wait REPLAY 20 || rc_replay=$?
  bg_wait RECOVER 20 || rc_recover=$?
  broker_resume main
  assert_equal "pub $rc_pub, replay $rc_replay, recover $rc_recover" "pub 7, replay 7, recover 7"
  grep -q "20 of 20 message(s) not acknowledged" "$PUB_ERR" || fail "$(cat "$PUB_ERR")"
  grep -q "20 of 20 message(s) not acknowledged" "$REPLAY_ERR" || fail "$(cat "$REPLAY_ERR")"
  grep -q "not acknowledged by the broker; they stay pending" "$RECOVER_ERR" || fail "$(cat "$RECOVER_ERR")"
  [[ $(wc -l <failed-pub.jsonl) == 20 && $(wc -l <failed-replay.jsonl) == 20 ]]
}
