# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# The main flows of pub, sub, relay, dlq and replay as functions, run by rabbitmq.bats and
# aedes.bats against their broker (load helpers/broker_flows after helpers/common).
#
# The suite sets FLOW_PORT (the broker's MQTT port on 127.0.0.1) and T (a topic root unique to
# the test). Subscriptions are waited for through `dtbus sub -vv`'s own "subscribed to" line
# (RabbitMQ logs no subscriptions), so every subscriber here is a dtbus sub.

# flow_sub VAR FILTER [sub args...] — a `dtbus sub` in the background, subscribed on return.
flow_sub() {
  local var=$1 filter=$2 err
  shift 2
  bg_start "$var" dtbus -vv sub -H 127.0.0.1 -p "$FLOW_PORT" -t "$filter" "$@"
  err=${var}_ERR
  dtbus_wait_subscribed "${!err}" "$filter" 1 30
}

# flow_sorted FILE — the lines of a `-F '{payload}'` output, sorted numerically.
flow_sorted() { sort -n "$1"; }

flow_pub() { dtbus pub -H 127.0.0.1 -p "$FLOW_PORT" "$@"; }

# pub and sub without -V: MQTT 5 is refused, 3.1.1 is used; 1000 QoS 1 messages, none lost.
flow_pubsub_negotiated() {
  flow_sub SUB "$T/n" -q 1 -C 1000 -W 60 -F '{payload}'
  grep -q "refused MQTT 5 .*connecting again with MQTT 3.1.1" "$SUB_ERR" ||
    fail "sub -vv did not say it fell back to 3.1.1: $(head -c 2000 "$SUB_ERR")"
  run -0 --separate-stderr bash -c "seq 1 1000 | dtbus -v pub -H 127.0.0.1 -p $FLOW_PORT -t $T/n -q 1 -l"
  assert_regex "$stderr" "refused MQTT 5 .*connecting again with MQTT 3.1.1"
  run -0 bg_wait SUB 60
  diff <(seq 1 1000) <(flow_sorted "$SUB_OUT")
}

# -V 5 stays strict: no fallback, exit 4 naming the broker.
flow_v5_strict() {
  run -4 --separate-stderr flow_pub -V 5 -t "$T/x" -m hi
  assert_regex "$stderr" "127.0.0.1:$FLOW_PORT"
  refute_regex "$stderr" "3\.1\.1"
  # and -V 311 connects at once
  run -0 --separate-stderr dtbus -v pub -H 127.0.0.1 -p "$FLOW_PORT" -V 311 -t "$T/x" -m hi
  refute_regex "$stderr" "refused MQTT 5"
}

# --share on a 3.1.1-only broker (RabbitMQ 3.10, aedes 0.51 take $share/... as a literal topic):
# sub warns.
flow_share_warns() {
  bg_start SUB dtbus -vv sub -H 127.0.0.1 -p "$FLOW_PORT" -t "$T/w" --share g -q 1 -C 1 -W 20
  dtbus_wait_subscribed "$SUB_ERR" "\$share/g/$T/w" 1 30
  grep -q "speaks only MQTT 3.1.1 and may not know shared subscriptions" "$SUB_ERR" ||
    fail "no warning: $(grep -v debug "$SUB_ERR")"
}

# Retained messages: a late subscriber gets the last one.
flow_retained() {
  run -0 flow_pub -t "$T/r" -m first -r -q 1
  run -0 flow_pub -t "$T/r" -m last -r -q 1
  run -0 --separate-stderr dtbus sub -H 127.0.0.1 -p "$FLOW_PORT" -t "$T/r" -C 1 -W 20 -F '{payload} {retain}'
  assert_output "last true"
}

# A durable `sub --session` gets what was published while it was away.
flow_session() {
  flow_sub SUB "$T/s" --session "dtbus-flow-$T" -q 1 -C 1 -W 30 -F '{payload}'
  run -0 flow_pub -t "$T/s" -m before -q 1
  run -0 bg_wait SUB 30
  assert_equal "$(cat "$SUB_OUT")" before
  seq 1 200 | flow_pub -t "$T/s" -q 1 -l
  run -0 --separate-stderr dtbus sub -H 127.0.0.1 -p "$FLOW_PORT" -t "$T/s" --session "dtbus-flow-$T" \
    -q 1 -C 200 -W 30 -F '{payload}'
  diff <(seq 1 200) <(sort -n <<<"$output")
}

# sub -o json | pub --jsonl: text, JSON and binary payloads relayed byte for byte.
flow_relay() {
  mkdir in
  printf '%s' '{"b":1,"a":[1,2.5,"é"]}' >in/1
  printf 'text with "quotes"\tand tabs\r\n' >in/2
  printf '\xff\xfe\x00\x80\xc3\x28' >in/3
  head -c 3000 /dev/urandom >in/4
  local n=4 i
  bg_start RELAY bash -c "dtbus -vv -p $FLOW_PORT -H 127.0.0.1 sub -t '$T/in/#' -q 1 -C $n -W 60 -o json | dtbus -p $FLOW_PORT -H 127.0.0.1 pub --jsonl -t '$T/out' -q 1"
  dtbus_wait_subscribed "$RELAY_ERR" "$T/in/#" 1 30
  flow_sub OUT "$T/out" -q 1 -C "$n" -W 60 -o json
  for i in $(seq 1 $n); do
    flow_pub -t "$T/in/$i" -q 1 -f "in/$i"
  done
  run -0 bg_wait RELAY 60
  run -0 bg_wait OUT 60
  mkdir out
  "$DTBUS_PYTHON" - "$OUT_OUT" <<'PY'
import base64, json, sys
for i, line in enumerate(open(sys.argv[1]), 1):
    r = json.loads(line)
    enc, p = r["payload_encoding"], r["payload"]
    data = base64.b64decode(p) if enc == "base64" else (p.encode() if enc == "utf8" else json.dumps(p, separators=(",", ":"), ensure_ascii=False).encode())
    data = r["payload_text"].encode() if "payload_text" in r else data
    open("out/%d" % i, "wb").write(data)
PY
  for i in $(seq 1 $n); do
    cmp "in/$i" "out/$i"
  done
}

# dlq: dead letters queued for the durable DLQ session while no dtbus runs are listed, recovered
# to their original topics unchanged, then marked recovered.
flow_dlq() {
  write_config "$XDG_CONFIG_HOME/dtbus/brokers.yaml" <<EOF
brokers:
  main:
    type: mqtt
    config:
      host: 127.0.0.1
      port: $FLOW_PORT
    dlq:
      topic: "$T/dlq/#"
      client_id: "dtbus-dlq-$T"
default_broker: main
EOF
  run -0 dtbus dlq attach
  local i
  for i in 1 2 3; do
    flow_pub -q 1 -t "$T/dlq/x" -m "{\"original_topic\":\"$T/orig/$i\",\"failure_reason\":\"boom $i\",\"payload\":{\"n\":$i}}"
  done
  run -0 --separate-stderr dtbus dlq list -o json
  assert_equal "${#lines[@]}" 3
  assert_line --index 0 --partial "\"original_topic\":\"$T/orig/1\""
  assert_line --index 2 --partial '"failure_reason":"boom 3"'
  flow_sub WATCH "$T/orig/#" -q 1 -C 3 -W 30 -F '{topic} {payload}'
  run -0 --separate-stderr dtbus dlq recover -o json
  assert_output '{"dry_run":false,"failed":0,"matched":3,"recovered":3,"skipped":0}'
  run -0 bg_wait WATCH 30
  assert_equal "$(sort "$WATCH_OUT")" "$(printf '%s/orig/1 {"n":1}\n%s/orig/2 {"n":2}\n%s/orig/3 {"n":3}' "$T" "$T" "$T")"
  run -0 dtbus dlq list --no-pull --all -o json
  assert_equal "${#lines[@]}" 3
  for line in "${lines[@]}"; do [[ $line == *'"state":"recovered"'* ]] || fail "$line"; done
}

# replay: records go out in order with their payloads.
flow_replay() {
  local i
  for i in $(seq 1 50); do
    printf '{"topic":"%s/rp","payload":{"i":%d},"payload_encoding":"json","qos":1,"received_at":"2026-01-01T00:00:%02d.000Z"}\n' "$T" "$i" $((i % 60))
  done >records.jsonl
  flow_sub SUB "$T/rp" -q 1 -C 50 -W 30 -F '{payload}'
  run -0 --separate-stderr dtbus replay -H 127.0.0.1 -p "$FLOW_PORT" --speed 0 records.jsonl
  run -0 bg_wait SUB 30
  diff <(for i in $(seq 1 50); do printf '{"i":%d}\n' "$i"; done) "$SUB_OUT"
}
