#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# The relay round trip: `dtbus sub -o json | dtbus pub --jsonl` reproduces every payload byte
# for byte (JSON kept as-is, odd JSON, text, binary, non-UTF-8, empty), and properties survive.

load helpers/common

setup_file() {
  dtbus_isolate_env
  broker_start main
}

teardown_file() { cleanup_all; }

setup() {
  dtbus_isolate_env
  T=t$BATS_TEST_NUMBER
  P=$BROKER_MAIN_PORT
}

teardown() { cleanup_all; }

@test "sub -o json | pub --jsonl -t OTHER relays payloads byte-exactly" {
  mkdir in
  printf '%s' '{"b":1,"a":[1,2.5,"é"]}' >in/1
  printf '%s' '{"b":1, "a":2.50}' >in/2
  printf '%s' '{"a":"\u00e9","a":2}' >in/3
  printf 'text with "quotes"\tand tabs\r\n' >in/4
  printf '\xff\xfe\x00\x80\xc3\x28' >in/5
  head -c 5000 /dev/urandom >in/6
  : >in/7
  printf 'null' >in/8
  n=8
  # The relay: everything on $T/in/# goes to $T/out, as one pipeline.
  bg_start RELAY bash -c "dtbus -p $P sub -t '$T/in/#' -q 1 -C $n -o json | dtbus -p $P pub --jsonl -t '$T/out' -q 1"
  broker_wait_subscribed main "$T/in/#"
  bg_start OUT dtbus -p "$P" sub -t "$T/out" -q 1 -C "$n" -W 20 -o json
  broker_wait_subscribed main "$T/out"
  for i in $(seq 1 $n); do
    mosquitto_pub -h 127.0.0.1 -p "$P" -t "$T/in/$i" -q 1 -f "in/$i"
  done
  bg_wait RELAY 20
  bg_wait OUT 20
  # Decode what arrived on $T/out and compare bytes.
  mkdir out
  python3 - "$OUT_OUT" <<'PY'
import base64, json, sys
for i, line in enumerate(open(sys.argv[1]), 1):
    r = json.loads(line)
    enc, p = r["payload_encoding"], r["payload"]
    data = base64.b64decode(p) if enc == "base64" else (p.encode() if enc == "utf8" else json.dumps(p, separators=(",", ":"), ensure_ascii=False).encode())
    data = r["payload_text"].encode() if "payload_text" in r else data  # non-compact JSON
    open(f"out/{i}", "wb").write(data)
PY
  for i in $(seq 1 $n); do
    cmp "in/$i" "out/$i"
  done
  # the raw bytes too, without any decoding of ours
  bg_start RAW dtbus -p "$P" sub -t "$T/out" -q 1 -C 1 -W 20 -o raw
  broker_wait_subscribed main "$T/out" 2
  dtbus -p "$P" sub -t "$T/in2" -C 1 -W 20 -o json >rec.jsonl &
  broker_wait_subscribed main "$T/in2"
  mosquitto_pub -h 127.0.0.1 -p "$P" -t "$T/in2" -f in/6
  wait $!
  dtbus -p "$P" pub --jsonl -t "$T/out" <rec.jsonl
  bg_wait RAW
  head -c 5000 "$RAW_OUT" >raw.bin
  cmp in/6 raw.bin
}

@test "pub --jsonl publishes to each record's own topic with its qos, retain and properties" {
  bg_start OUT dtbus -p "$P" sub -t "$T/#" -q 2 -C 2 -W 20 -o json
  broker_wait_subscribed main "$T/#"
  cat >records.jsonl <<EOF
{"topic":"$T/a","payload":{"x":1},"payload_encoding":"json","qos":2,"retain":false,"properties":{"content_type":"application/json","user_properties":{"k":"v"}}}
{"topic":"$T/b","payload":"aGk=","payload_encoding":"base64","qos":1,"retain":false}
EOF
  run -0 dtbus -p "$P" pub --jsonl -o json <records.jsonl
  assert_output --partial '"published":2,"acknowledged":2'
  bg_wait OUT
  # (QoS 1 and 2 flows may finish in either order)
  python3 -c 'import json,sys
for l in open(sys.argv[1]):
    r = json.loads(l); print(r["topic"], r["qos"], r["payload"], r.get("properties"))' "$OUT_OUT" >got.txt
  run sort got.txt
  assert_output "$T/a 2 {'x': 1} {'content_type': 'application/json', 'user_properties': {'k': 'v'}}
$T/b 1 hi None"
}

@test "pub --jsonl names a malformed record by line number" {
  run -2 dtbus -p "$P" pub --jsonl < <(printf '{"topic":"%s/a","payload":"x"}\n{"topic":"%s/+","payload":"x"}\n' "$T" "$T")
  assert_output --partial "stdin line 2"
  assert_output --partial "$T/+"
  run -2 dtbus -p "$P" pub --jsonl < <(printf '{"topic":"a","payload":"%%","payload_encoding":"base64"}\n')
  assert_output --partial "stdin line 1: invalid record"
}
