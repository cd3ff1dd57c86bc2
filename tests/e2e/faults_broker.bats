#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Fault injection: the broker stops, restarts and hangs (SIGSTOP/SIGCONT) under pub -l,
# sub --session, replay and dlq recover. Each test counts what a subscriber received and states
# what was lost: nothing at QoS 1 (duplicates allowed: at least once). Where a hang outlasts
# --timeout the command reports it (exit 7) and what was not acknowledged is saved (failed-out)
# or stays pending (DLQ); what was acknowledged arrived.
# Not repeated here (see pub.bats, dlq_crash.bats): pub -l across a broker restart with a
# sub --session subscriber, pub --timeout under a hung broker, SIGKILL of dlq recover.

load helpers/common
load faults_common

setup() {
  dtbus_isolate_env
  T=fb$BATS_TEST_NUMBER
  broker_start main # one per test: a hung or restarted broker must not leak into the next
  faults_config
  spool_on_tmpfs
}

teardown() { faults_teardown; }

# records N GAP_MS TOPIC: N records GAP_MS apart with payload {"i":k}, k = 1..N; payloads.txt
# gets the payloads.
records() {
  "$DTBUS_PYTHON" - "$@" <<'PY'
import json, sys
n, gap, topic = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
with open("payloads.txt", "w") as payloads:
    for i in range(1, n + 1):
        print(json.dumps({"topic": topic, "payload": {"i": i}, "qos": 1, "ts": 1795423048000 + round((i - 1) * gap)}))
        payloads.write('{"i":%d}\n' % i)
PY
}

# dead_letters N: DLQ bodies for payloads {"i":1}..{"i":N} on $T/dlq/x; payloads.txt gets them.
dead_letters() {
  "$DTBUS_PYTHON" -c '
import sys
n, t = int(sys.argv[1]), sys.argv[2]
with open("payloads.txt", "w") as payloads:
    for i in range(1, n + 1):
        print("{\"original_topic\":\"%s/orig/%d\",\"failure_reason\":\"boom\",\"payload\":{\"i\":%d}}" % (t, i % 5, i))
        payloads.write("{\"i\":%d}\n" % i)
' "$1" "$T" | mosquitto_pub -p "$BROKER_MAIN_PORT" -q 1 -t "$T/dlq/x" -l
}

# A durable watcher (its own session, so a broker restart keeps what is queued for it).
watch() {
  bg_start WATCH mosquitto_sub -p "$BROKER_MAIN_PORT" -q 1 -c -i "$T-watch" -t "$1"
  broker_wait_subscribed main "$1"
}

@test "pub -l QoS 1: broker hung (SIGSTOP) then resumed, and down for a while: exit 0, every line delivered" {
  seq 1 6000 >in.txt
  watch "$T/p"
  bg_start PUB bash -c "exec dtbus pub -t $T/p -l -q 1 --rate 2000 -o json < in.txt"
  wait_until 20 at_least 1000 lines_matching "$WATCH_OUT" .
  broker_pause main
  sleep 1.5 # the hang itself: longer than the window takes to fill at 2000/s
  broker_resume main
  wait_until 20 at_least 3000 lines_matching "$WATCH_OUT" .
  broker_stop main
  wait_for_line "$PUB_ERR" "connection to .* lost .*reconnecting" 10
  broker_restart main # started again on the same port after the outage
  run -0 bg_wait PUB 60
  [[ $(json_value "$PUB_OUT" acknowledged) == 6000 && $(json_value "$PUB_OUT" failed) == 0 ]]
  wait_until 30 all_delivered in.txt "$WATCH_OUT"
  bg_stop WATCH
  account in.txt --got "$WATCH_OUT" --label "pub -l, broker hung 1.5 s and down"
}

@test "sub --session: broker restarted and hung while messages flow: every QoS 1 message printed" {
  seq 1 6000 >in.txt
  bg_start S dtbus sub --session "$T-s" -t "$T/s" -q 1 -F '{payload}'
  broker_wait_subscribed main "$T/s"
  bg_start PUB bash -c "exec dtbus pub -t $T/s -l -q 1 --rate 2000 < in.txt"
  wait_until 20 at_least 1000 lines_matching "$S_OUT" .
  broker_restart main
  wait_until 20 at_least 3000 lines_matching "$S_OUT" .
  broker_pause main
  sleep 1.5 # the hang itself
  broker_resume main
  run -0 bg_wait PUB 60
  wait_until 30 all_delivered in.txt "$S_OUT"
  bg_stop S INT
  account in.txt --got "$S_OUT" --label "sub --session, broker restarted and hung 1.5 s"
  grep -q "reconnected" "$S_ERR" || grep -q "lost" "$S_ERR"
}

@test "replay: broker restarted and hung mid-replay: exit 0, every record delivered" {
  records 4000 1 "$T/r" >rec.jsonl
  watch "$T/r"
  bg_start REPLAY dtbus replay --rate 2000 -o json rec.jsonl
  wait_until 20 at_least 800 lines_matching "$WATCH_OUT" .
  broker_restart main
  wait_until 20 at_least 2000 lines_matching "$WATCH_OUT" .
  broker_pause main
  sleep 1.5 # the hang itself
  broker_resume main
  run -0 bg_wait REPLAY 60
  [[ $(json_value "$REPLAY_OUT" acknowledged) == 4000 && $(json_value "$REPLAY_OUT" failed) == 0 ]]
  wait_until 30 all_delivered payloads.txt "$WATCH_OUT"
  bg_stop WATCH
  account payloads.txt --got "$WATCH_OUT" --label "replay, broker restarted and hung 1.5 s"
}

@test "replay: broker hung longer than --timeout: exit 7; records up to the one named are delivered or in --failed-out" {
  records 3000 1 "$T/r" >rec.jsonl
  watch "$T/r"
  bg_start REPLAY dtbus replay --rate 2000 --timeout 1.5 --failed-out failed.jsonl -o json rec.jsonl
  wait_until 20 at_least 500 lines_matching "$WATCH_OUT" .
  broker_pause main
  run bg_wait REPLAY 30
  broker_resume main
  assert_equal "$status" 7
  grep -qE "^dtbus replay: error: replay stopped at rec.jsonl:[0-9]+; later records were not sent" "$REPLAY_ERR" ||
    fail "$(cat "$REPLAY_ERR")"
  grep -q "not acknowledged; saved to failed.jsonl" "$REPLAY_ERR"
  upto=$(sed -nE 's/.*replay stopped at rec.jsonl:([0-9]+).*/\1/p' "$REPLAY_ERR")
  [[ $(json_value "$REPLAY_OUT" failed) -gt 0 ]]
  head -n "$upto" payloads.txt >sent.txt
  not_saved sent.txt failed.jsonl >acked.txt
  wait_until 20 all_delivered acked.txt "$WATCH_OUT" || true # else account names them
  bg_stop WATCH
  account payloads.txt --upto "$upto" --got "$WATCH_OUT" --saved failed.jsonl \
    --label "replay, broker hung beyond --timeout (stopped at record $upto)"
}

@test "dlq recover: broker restarted and hung mid-recover: exit 0, every entry delivered, none pending" {
  run -0 dtbus dlq attach
  dead_letters 3000
  watch "$T/orig/#"
  bg_start REC dtbus dlq recover --rate 2000 -o json
  wait_until 20 at_least 600 lines_matching "$WATCH_OUT" .
  broker_restart main
  wait_until 20 at_least 1500 lines_matching "$WATCH_OUT" .
  broker_pause main
  sleep 1.5 # the hang itself
  broker_resume main
  run -0 bg_wait REC 60
  assert_equal "$(cat "$REC_OUT")" '{"dry_run":false,"failed":0,"matched":3000,"recovered":3000,"skipped":0}'
  run -0 dtbus dlq list -o json
  assert_output ""
  wait_until 30 all_delivered payloads.txt "$WATCH_OUT"
  bg_stop WATCH
  account payloads.txt --got "$WATCH_OUT" --label "dlq recover, broker restarted and hung 1.5 s"
}

@test "dlq recover: broker hung longer than --timeout: exit 7, the unacknowledged stay pending; a rerun recovers them" {
  run -0 dtbus dlq attach
  dead_letters 2000
  watch "$T/orig/#"
  bg_start REC dtbus dlq recover --rate 2000 --timeout 1.5 -o json
  wait_until 20 at_least 400 lines_matching "$WATCH_OUT" .
  broker_pause main
  run bg_wait REC 30
  broker_resume main
  assert_equal "$status" 7
  grep -q "not acknowledged by the broker; they stay pending" "$REC_ERR" || fail "$(cat "$REC_ERR")"
  recovered=$(json_value "$REC_OUT" recovered)
  ((recovered > 0 && recovered < 2000))
  run -0 bash -c "dtbus dlq list --no-pull -o json | wc -l"
  assert_equal "$output" $((2000 - recovered))
  run -0 dtbus dlq recover -o json
  run -0 dtbus dlq list -o json
  assert_output ""
  wait_until 30 all_delivered payloads.txt "$WATCH_OUT"
  bg_stop WATCH
  account payloads.txt --got "$WATCH_OUT" --label "dlq recover, broker hung beyond --timeout, then a rerun"
}
