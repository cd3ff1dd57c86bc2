#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# JSON payloads are JSON in `sub -o json` whatever their spacing: a /usr/bin/python3 paho
# producer publishes json.dumps() payloads as the seed systems do
# (tests/fixtures/seed_validate/dumps_producer.py); `jq .payload.x`, `-F {payload.x}` and
# `--where` read them, and the relay `sub -o json | pub --jsonl` and `--record` + `replay` send
# the same bytes again (compared with what mosquitto_sub received).

load helpers/common

PRODUCER=$DTBUS_FIXTURES_DIR/seed_validate/dumps_producer.py
SEED_PY=/usr/bin/python3

setup_file() {
  dtbus_isolate_env
  broker_start main
}

teardown_file() { cleanup_all; }

setup() {
  dtbus_isolate_env
  T=t$BATS_TEST_NUMBER
  P=$BROKER_MAIN_PORT
  N=$("$SEED_PY" "$PRODUCER" count)
}

teardown() { cleanup_all; }

produce() { "$SEED_PY" "$PRODUCER" publish --port "$P" --base "$1"; }

# payloads_of FILE PREFIX — the hex payloads of mosquitto_sub '%t %x' lines whose topic starts
# with PREFIX, in order
payloads_of() { awk -v p="$2" 'index($1, p) == 1 { print $2 }' "$1"; }

@test "json.dumps payloads: jq .payload.x, -F {payload.x} and --where work on every one" {
  bg_start SUB dtbus sub -H 127.0.0.1 -p "$P" -t "$T/in/#" -q 1 -C "$N" -W 30 -o json
  bg_start SEL dtbus sub -H 127.0.0.1 -p "$P" -t "$T/in/#" -q 1 -C 4 -W 30 --where kind=a \
    -F '{topic} {payload.x} {payload.kind}'
  broker_wait_subscribed main "$T/in/#" 2
  run -0 produce "$T/in"
  run -0 bg_wait SUB
  run -0 bg_wait SEL
  # The README's own example, on objects; every line is JSON.
  run -0 jq -c 'select(.payload | type == "object") | .payload.x' "$SUB_OUT"
  assert_output '1
{"deep":[1,2]}
3.5
null
5
"日本"
7'
  run -0 jq -r '[.payload_encoding, has("payload_text")] | join(" ")' "$SUB_OUT"
  # json.dumps spacing keeps its text beside the value; compact JSON has none; NaN is not JSON.
  assert_output 'json true
json true
json true
json true
json true
json true
json true
json false
utf8 false
json false'
  run -0 jq -c '.payload[1].x' <(sed -n 7p "$SUB_OUT")
  assert_output 2
  run cat "$SEL_OUT"
  assert_output "$T/in/0 1 a
$T/in/2 3.5 a
$T/in/4 5 a
$T/in/9 7 a"
}

@test "relay sub -o json | pub --jsonl sends json.dumps payloads byte for byte" {
  bg_start RAW mosquitto_sub -h 127.0.0.1 -p "$P" -t "$T/in/#" -t "$T/out" -q 1 -C $((2 * N)) \
    -W 30 -F '%t %x'
  bg_start RELAY bash -c "dtbus sub -H 127.0.0.1 -p $P -t '$T/in/#' -q 1 -C $N -o json \
    | tee relay.jsonl | dtbus pub -H 127.0.0.1 -p $P --jsonl -t '$T/out' -q 1"
  broker_wait_subscribed main "$T/in/#" 2
  broker_wait_subscribed main "$T/out"
  run -0 produce "$T/in"
  run -0 bg_wait RELAY 30
  run -0 bg_wait RAW 30
  payloads_of "$RAW_OUT" "$T/in/" >in.hex
  payloads_of "$RAW_OUT" "$T/out" >out.hex
  [ "$(wc -l <in.hex)" = "$N" ]
  cmp in.hex out.hex
  # The relayed lines had the values as JSON (not strings) all along.
  [ "$(jq -r '.payload.kind // empty' relay.jsonl | head -1)" = a ]
}

@test "--record then replay sends json.dumps payloads byte for byte; replay --where reads them" {
  bg_start RAW mosquitto_sub -h 127.0.0.1 -p "$P" -t "$T/r/#" -t "$T/again/#" -t "$T/kind-a/#" \
    -q 1 -C $((2 * N + 4)) -W 30 -F '%t %x'
  bg_start REC dtbus sub -H 127.0.0.1 -p "$P" -t "$T/r/#" -q 1 -C "$N" -W 30 -o raw \
    --record rec.jsonl
  broker_wait_subscribed main "$T/r/#" 2
  run -0 produce "$T/r"
  run -0 bg_wait REC
  [ "$(jq -c '.payload.x' <(head -1 rec.jsonl))" = 1 ]
  run -0 dtbus replay -H 127.0.0.1 -p "$P" --speed 0 --qos 1 --topic-map "$T/r/=$T/again/" rec.jsonl
  run -0 dtbus replay -H 127.0.0.1 -p "$P" --speed 0 --qos 1 --where kind=a \
    --topic-map "$T/r/=$T/kind-a/" rec.jsonl
  run -0 bg_wait RAW 30
  payloads_of "$RAW_OUT" "$T/r/" >in.hex
  payloads_of "$RAW_OUT" "$T/again/" >out.hex
  [ "$(wc -l <in.hex)" = "$N" ]
  cmp in.hex out.hex
  run awk -v p="$T/kind-a/" 'index($1, p) == 1 { print $1 }' "$RAW_OUT"
  assert_output "$T/kind-a/0
$T/kind-a/2
$T/kind-a/4
$T/kind-a/9"
}
