#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# dtbus against RabbitMQ 3.10 (Debian's rabbitmq-server, MQTT plugin): one throwaway node for the
# file (helpers/brokers.bash). RabbitMQ 3.10 speaks MQTT 3.1.1 only and takes QoS 0 and 1:
# pub/sub/relay/dlq/replay work without -V (MQTT 5 refused, 3.1.1 used), QoS 2 is diagnosed.
# Not run here because RabbitMQ cannot: MQTT 5 properties (content type, user properties,
# expiry), QoS 2 delivery, shared subscriptions ($share/ is a literal topic).
# bats file_tags=brokers,rabbitmq

load helpers/common
load helpers/broker_flows

setup_file() {
  dtbus_isolate_env
  rabbitmq_available || skip "RabbitMQ not installed"
  rabbitmq_start main
}

teardown_file() { cleanup_all; }

setup() {
  rabbitmq_available || skip "RabbitMQ not installed"
  dtbus_isolate_env
  T=rmq$BATS_TEST_NUMBER
  FLOW_PORT=$RABBIT_MAIN_PORT
}

teardown() { cleanup_all; }

@test "rabbitmq: pub and sub work without -V (MQTT 5 refused, 3.1.1 said at -v); 1000 QoS 1, none lost" {
  flow_pubsub_negotiated
}

@test "rabbitmq: -V 5 stays strict (exit 4), -V 311 connects at once" {
  flow_v5_strict
}

@test "rabbitmq: QoS 2 ends within 15 s naming QoS, exit 7, every message saved to --failed-out" {
  local start=$SECONDS
  run -7 --separate-stderr bash -c "printf 'a\nb\nc\n' | dtbus pub -H 127.0.0.1 -p $FLOW_PORT -t $T/q2 -q 2 -l --failed-out failed.jsonl"
  ((SECONDS - start <= 15)) || fail "took $((SECONDS - start)) s"
  assert_regex "$stderr" "does not accept QoS 2.*-q 1"
  assert_equal "$(wc -l <failed.jsonl)" 3
  # what was saved goes through at QoS 1
  run -0 bash -c "sed 's/\"qos\":2/\"qos\":1/' failed.jsonl | dtbus pub -H 127.0.0.1 -p $FLOW_PORT --jsonl"
}

@test "rabbitmq: --share warns that the broker may take \$share/ as a literal topic" {
  flow_share_warns
}

@test "rabbitmq: retained messages" {
  flow_retained
}

@test "rabbitmq: a durable sub --session gets what was published while away" {
  flow_session
}

@test "rabbitmq: relay sub -o json | pub --jsonl keeps payloads byte for byte" {
  flow_relay
}

@test "rabbitmq: dlq attach, list, recover" {
  flow_dlq
}

@test "rabbitmq: replay sends records in order" {
  flow_replay
}
