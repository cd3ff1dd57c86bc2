#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# What a broker announces it cannot take is diagnosed before anything is sent: mosquitto with
# `max_qos 1` says so in its MQTT 5 CONNACK (maximum QoS), and pub -q 2 exits 2 at once.
# (RabbitMQ's QoS 2 on 3.1.1, where the broker cannot say so: rabbitmq.bats.)
# bats file_tags=brokers

load helpers/common

setup_file() {
  dtbus_isolate_env
  broker_start limited --extra 'max_qos 1'
}

teardown_file() { cleanup_all; }

setup() {
  dtbus_isolate_env
  T=lim$BATS_TEST_NUMBER
  P=$BROKER_LIMITED_PORT
}

teardown() { cleanup_all; }

@test "CONNACK maximum QoS 1: pub -q 2 exits 2 before sending, naming QoS and the broker's limit" {
  bg_start SUB mosquitto_sub -h 127.0.0.1 -p "$P" -t "$T/#" -q 1 -W 5 -v
  broker_wait_subscribed limited "$T/#"
  run -2 --separate-stderr bash -c "printf 'a\nb\n' | dtbus pub -H 127.0.0.1 -p $P -t $T/q -q 2 -l --failed-out failed.jsonl"
  assert_regex "$stderr" "accepts at most QoS 1 .*not QoS 2.*-q 1"
  [[ $(grep -c 'error' <<<"$stderr") -eq 1 ]] || fail "one error line expected: $stderr"
  run bg_wait SUB 10
  assert_equal "$(cat "$SUB_OUT")" ""
  # QoS 1 goes through
  run -0 dtbus pub -H 127.0.0.1 -p "$P" -t "$T/q" -q 1 -m ok
}
