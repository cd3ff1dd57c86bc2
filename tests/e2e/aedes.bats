#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# dtbus against aedes (npm, in-memory persistence; tests/fixtures/aedes/server.js), one broker for
# the file. aedes speaks MQTT 3.1.1 (it refuses MQTT 5 with CONNACK "unsupported protocol
# version") and takes QoS 0, 1 and 2: pub/sub/relay/dlq/replay work without -V.
# Not run here because aedes cannot: MQTT 5 properties, shared subscriptions ($share/ is a
# literal topic); sessions and retained messages do not survive a restart (in-memory persistence).
# bats file_tags=brokers,aedes

load helpers/common
load helpers/broker_flows

setup_file() {
  dtbus_isolate_env
  aedes_available || skip "aedes not installed"
  aedes_start main
}

teardown_file() { cleanup_all; }

setup() {
  aedes_available || skip "aedes not installed"
  dtbus_isolate_env
  T=aedes$BATS_TEST_NUMBER
  FLOW_PORT=$AEDES_MAIN_PORT
}

teardown() { cleanup_all; }

@test "aedes: pub and sub work without -V (MQTT 5 refused, 3.1.1 said at -v); 1000 QoS 1, none lost" {
  flow_pubsub_negotiated
}

@test "aedes: -V 5 stays strict (exit 4), -V 311 connects at once" {
  flow_v5_strict
}

@test "aedes: QoS 2 end to end, each message once" {
  flow_sub SUB "$T/q2" -q 2 -C 100 -W 30 -F '{qos} {payload}'
  run -0 bash -c "seq 1 100 | dtbus pub -H 127.0.0.1 -p $FLOW_PORT -t $T/q2 -q 2 -l"
  run -0 bg_wait SUB 30
  diff <(seq 1 100 | sed 's/^/2 /') "$SUB_OUT"
}

@test "aedes: --share warns that the broker may take \$share/ as a literal topic" {
  flow_share_warns
}

@test "aedes: retained messages" {
  flow_retained
}

@test "aedes: a durable sub --session gets what was published while away" {
  flow_session
}

@test "aedes: relay sub -o json | pub --jsonl keeps payloads byte for byte" {
  flow_relay
}

@test "aedes: dlq attach, list, recover" {
  flow_dlq
}

@test "aedes: replay sends records in order" {
  flow_replay
}
