#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Scale-out on a 2-node RabbitMQ 3.10 cluster on this machine (README "Scale-out"): durable
# sessions that move between nodes, the DLQ session across nodes, and failover (`--url A,B`,
# brokers.yaml `hosts:`) when a node is stopped mid-publish, with no QoS 1 message lost.
# Node B joins node A at boot (classic peer discovery), once for the file.
# bats file_tags=brokers,rabbitmq,cluster

load helpers/common
load helpers/broker_flows

setup_file() {
  dtbus_isolate_env
  rabbitmq_available || skip "RabbitMQ not installed"
  rabbitmq_start a
  rabbitmq_start b --join a
}

teardown_file() { cleanup_all; }

setup() {
  rabbitmq_available || skip "RabbitMQ not installed"
  dtbus_isolate_env
  T=cl$BATS_TEST_NUMBER
  A=$RABBIT_A_PORT
  B=$RABBIT_B_PORT
}

teardown() { cleanup_all; }

# covered N FILE — every payload 1..N is in FILE (QoS 1: duplicates allowed, gaps are not);
# prints what is missing and the duplicates on stderr.
covered() {
  "$DTBUS_PYTHON" - "$@" <<'PY'
import collections, sys
n, name = int(sys.argv[1]), sys.argv[2]
seen = collections.Counter(line.strip() for line in open(name) if line.strip())
missing = [i for i in range(1, n + 1) if str(i) not in seen]
dups = sum(c - 1 for c in seen.values() if c > 1)
print("missing %d of %d %s; %d duplicate(s)" % (len(missing), n, missing[:20], dups), file=sys.stderr)
sys.exit(1 if missing else 0)
PY
}

@test "cluster: a message published through node B reaches a subscriber on node A" {
  FLOW_PORT=$A flow_sub SUB "$T/x" -q 1 -C 1 -W 30 -F '{payload}'
  run -0 dtbus pub -H 127.0.0.1 -p "$B" -t "$T/x" -q 1 -m across
  run -0 bg_wait SUB 30
  assert_equal "$(cat "$SUB_OUT")" across
}

@test "cluster: a durable sub --session moved from node A to node B gets what was queued while away" {
  FLOW_PORT=$A flow_sub SUB "$T/s" --session "dtbus-$T" -q 1 -C 1 -W 30 -F '{payload}'
  run -0 dtbus pub -H 127.0.0.1 -p "$A" -t "$T/s" -q 1 -m first
  run -0 bg_wait SUB 30
  seq 1 500 | dtbus pub -H 127.0.0.1 -p "$A" -t "$T/s" -q 1 -l
  run -0 --separate-stderr dtbus sub -H 127.0.0.1 -p "$B" -t "$T/s" --session "dtbus-$T" -q 1 \
    -C 500 -W 30 -F '{payload}'
  diff <(seq 1 500) <(sort -n <<<"$output")
}

@test "cluster: the DLQ session attached through node A is listed and recovered through node B" {
  write_config "$XDG_CONFIG_HOME/dtbus/brokers.yaml" <<EOF
brokers:
  rabbit:
    type: mqtt
    config:
      host: 127.0.0.1
      port: $A
    dlq:
      topic: "$T/dlq/#"
      client_id: "dtbus-dlq-$T"
default_broker: rabbit
EOF
  run -0 dtbus dlq attach
  local i
  for i in 1 2 3; do
    dtbus pub -H 127.0.0.1 -p "$A" -q 1 -t "$T/dlq/x" \
      -m "{\"original_topic\":\"$T/orig/$i\",\"failure_reason\":\"r$i\",\"payload\":$i}"
  done
  # another machine's spool: pulled through B
  export XDG_STATE_HOME=$BATS_TEST_TMPDIR/other-state
  run -0 --separate-stderr dtbus -p "$B" dlq list -o json
  assert_equal "${#lines[@]}" 3
  assert_line --index 1 --partial "\"original_topic\":\"$T/orig/2\""
  FLOW_PORT=$B flow_sub WATCH "$T/orig/#" -q 1 -C 3 -W 30 -F '{topic} {payload}'
  run -0 --separate-stderr dtbus -p "$B" dlq recover -o json
  assert_output '{"dry_run":false,"failed":0,"matched":3,"recovered":3,"skipped":0}'
  run -0 bg_wait WATCH 30
}

@test "cluster: --url A,B connects through B when A cannot be reached" {
  local dead
  dead=$(free_port)
  run -0 --separate-stderr dtbus pub --url "mqtt://127.0.0.1:$dead,mqtt://127.0.0.1:$B" -t "$T/u" -q 1 -m hi
  assert_regex "$stderr" "cannot reach 127.0.0.1:$dead .*trying 127.0.0.1:$B"
}

@test "cluster: node A stopped mid-publish, pub goes on through node B (hosts:), no QoS 1 message lost" {
  local n=3000
  write_config "$XDG_CONFIG_HOME/dtbus/brokers.yaml" <<EOF
brokers:
  rabbit:
    type: mqtt
    config:
      host: 127.0.0.1
      port: $A
      hosts: "127.0.0.1:$B"
      reconnect_interval: 0.5
default_broker: rabbit
EOF
  # The subscriber's session lives on node B, which stays up.
  FLOW_PORT=$B flow_sub SUB "$T/f" --session "dtbus-$T" -q 1 -F '{payload}'
  local started=$SECONDS
  bg_start PUB bash -c "seq 1 $n | dtbus pub -t $T/f -q 1 -l --rate 300 --failed-out failed.jsonl"
  wait_for_file_lines "$SUB_OUT" 600 30
  rabbitmq_stop a
  run -0 bg_wait PUB 60
  local took=$((SECONDS - started))
  wait_until 60 covered "$n" "$SUB_OUT"
  # (measured, for README "Scale-out")
  printf '# failover mid-publish: %d QoS 1 at 300/s took %d s (10 s without the stop); ' "$n" "$took" >&3
  covered "$n" "$SUB_OUT" 2>&3 || true
  grep -q "failing over from 127.0.0.1:$A to 127.0.0.1:$B" "$PUB_ERR" || fail "$(cat "$PUB_ERR")"
  [[ ! -e failed.jsonl ]]
  # (node A stays down: this is the file's last test)
}
