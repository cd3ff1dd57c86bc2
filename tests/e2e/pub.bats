#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# dtbus pub against a real mosquitto: input modes, QoS, retain, properties, envelopes, JSON
# validation, the delivery guarantee (reconnect + resend, > 65535 QoS 1 messages, --timeout).
# Messages are read back with mosquitto_sub or dtbus sub; JSON is checked with python3.

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
  write_config "$XDG_CONFIG_HOME/dtbus/brokers.yaml" <<EOF
brokers:
  main:
    type: mqtt
    config:
      host: 127.0.0.1
      port: $P
      reconnect_interval: 0.2
    envelope: none
    source: {app_key: ops.cli, app_version: 1.2.3, module: ops}
  enveloped:
    type: mqtt
    config:
      host: 127.0.0.1
      port: $P
      topic_prefix: "celine/dt/"
    envelope: tracker
default_broker: main
EOF
}

teardown() { cleanup_all; }

# json_get FILE LINE EXPR — python expression over `r` (the JSON value on that 1-based line)
json_get() {
  python3 -c 'import json,sys; r=json.loads(open(sys.argv[1]).read().splitlines()[int(sys.argv[2])-1]); print(eval(sys.argv[3]))' "$@"
}

# sub_bg VAR COUNT FILTER [more mosquitto_sub args] — a mosquitto_sub waiting for COUNT messages
sub_bg() {
  local var=$1 count=$2 filter=$3
  shift 3
  bg_start "$var" mosquitto_sub -h 127.0.0.1 -p "$P" -t "$filter" -C "$count" -W 20 "$@"
  broker_wait_subscribed main "$filter"
}

@test "-m reaches a subscriber at QoS 0, 1 and 2" {
  sub_bg S 3 "$T/q" -q 2 -F '%q %t %p'
  for q in 0 1 2; do
    run -0 dtbus pub -t "$T/q" -m "hello $q" -q "$q"
  done
  bg_wait S
  run cat "$S_OUT"
  assert_output "0 $T/q hello 0
1 $T/q hello 1
2 $T/q hello 2"
}

@test "-f publishes a binary file byte-exactly, -s all of stdin as one message" {
  head -c 3000 /dev/urandom >blob.bin
  sub_bg S 2 "$T/f" -N
  run -0 dtbus pub -t "$T/f" -f blob.bin -q 1
  printf 'one\ntwo\n' | dtbus pub -t "$T/f" -s -q 1
  bg_wait S
  head -c 3000 "$S_OUT" >got.bin
  cmp blob.bin got.bin
  [ "$(tail -c +3001 "$S_OUT")" = "$(printf 'one\ntwo\n')" ]
}

@test "-f names a missing file (exit 2)" {
  run -2 dtbus pub -t "$T/x" -f nope.txt
  assert_output --partial "nope.txt"
}

@test "-l publishes one message per line and skips empty lines" {
  sub_bg S 3 "$T/l" -F '%p'
  printf 'a\n\nb b\nc' | dtbus pub -t "$T/l" -l -q 1 -o json >summary.json
  bg_wait S
  run cat "$S_OUT"
  assert_output "a
b b
c"
  [ "$(json_get summary.json 1 'r["published"], r["acknowledged"], r["failed"], r["skipped"]')" = "(3, 3, 0, 0)" ]
  [ "$(json_get summary.json 1 'sorted(r)')" = "['acknowledged', 'duration_s', 'failed', 'published', 'rate', 'skipped']" ]
}

@test "-r retains the message" {
  run -0 dtbus pub -t "$T/r" -m kept -r -q 1
  run -0 mosquitto_sub -h 127.0.0.1 -p "$P" -t "$T/r" -C 1 -W 5 -F '%r %p'
  assert_output "1 kept"
}

@test "-x, --content-type and --expiry become MQTT 5 properties" {
  bg_start S dtbus sub -t "$T/p" -C 1 -W 10 -o json
  broker_wait_subscribed main "$T/p"
  run -0 dtbus pub -t "$T/p" -m x -x team=ops -x team=dev --content-type text/plain --expiry 300
  bg_wait S
  [ "$(json_get "$S_OUT" 1 'r["properties"]["user_properties"]')" = "{'team': ['ops', 'dev']}" ]
  [ "$(json_get "$S_OUT" 1 'r["properties"]["content_type"]')" = "text/plain" ]
  json_get "$S_OUT" 1 'r["properties"]["message_expiry"]' | grep -qE '^(300|299)$'
}

@test "--envelope tracker wraps the payload with every field" {
  sub_bg S 1 "$T/e" -F '%p'
  run -0 dtbus pub -t "$T/e" -m '{"b":1,"a":{"c":2}}' --envelope tracker --kind project_created
  bg_wait S
  python3 - "$S_OUT" <<'PY'
import json, re, sys
line = open(sys.argv[1]).read().strip()
e = json.loads(line)
assert list(e) == ["trace_id", "ts", "kind", "idempotency_key", "payload"], list(e)
assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", e["trace_id"]), e
assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", e["ts"]), e
assert e["kind"] == "project_created"
assert re.fullmatch(r"project_created_\d{13}_[0-9a-f]{8}", e["idempotency_key"]), e
assert '"payload":{"b":1,"a":{"c":2}}' in line, line
PY
}

@test "--envelope dt wraps the payload with every field and the config source" {
  sub_bg S 1 "$T/e" -F '%p'
  run -0 dtbus pub -t "$T/e" -m '[1,2]' --envelope dt --type MeterReading --correlation-id c-42
  bg_wait S
  python3 - "$S_OUT" <<'PY'
import json, re, sys
e = json.loads(open(sys.argv[1]).read())
assert list(e) == ["@context", "@type", "id", "source", "timestamp", "correlation_id", "payload", "metadata"], list(e)
assert e["@context"] == "https://celine-project.eu/contexts/dt-event.jsonld"
assert e["@type"] == "MeterReading"
assert re.fullmatch(r"[0-9a-f-]{36}", e["id"])
assert e["source"] == {"app_key": "ops.cli", "app_version": "1.2.3", "module": "ops"}, e["source"]
assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", e["timestamp"])
assert e["correlation_id"] == "c-42" and e["payload"] == [1, 2] and e["metadata"] == {}
PY
}

@test "the broker's envelope and topic_prefix are the defaults; --envelope none and --no-prefix override" {
  sub_bg S 2 "celine/dt/$T/d" -F '%p'
  run -2 dtbus pub -b enveloped -t "$T/d" -m '{"x":1}'
  assert_output --partial "--kind"
  run -0 dtbus pub -b enveloped -t "$T/d" -m '{"x":1}' --kind k1
  run -0 dtbus pub -b enveloped -t "$T/d" -m 'plain' --envelope none
  bg_wait S
  [ "$(json_get "$S_OUT" 1 'r["kind"], r["payload"]')" = "('k1', {'x': 1})" ]
  [ "$(sed -n 2p "$S_OUT")" = plain ]
  sub_bg S2 1 "$T/np" -F '%t'
  run -0 dtbus pub -b enveloped --no-prefix -t "$T/np" -m '{}' --kind k
  bg_wait S2
  [ "$(cat "$S2_OUT")" = "$T/np" ]
}

@test "a wildcard topic is rejected with exit 2 before connecting" {
  port=$(free_port)  # nothing listens there: connecting would be exit 4
  run -2 dtbus pub -p "$port" -t "$T/+/x" -m hi
  assert_output --partial "$T/+/x"
  run -2 dtbus pub -p "$port" -t "$T/#" -m hi
}

@test "a bad JSON line is named by number after the lines before it are published" {
  sub_bg S 3 "$T/j" -F '%p' -q 1
  run -2 dtbus pub -t "$T/j" -l -q 1 --envelope tracker --kind k < <(printf '{"n":1}\n{"n":2}\n{"n":\n{"n":4}\n')
  assert_output --partial "stdin line 3"
  # pub had both lines acknowledged before it exited: an end marker sent now arrives after them.
  mosquitto_pub -p "$BROKER_MAIN_PORT" -q 1 -t "$T/j" -m end
  run -0 bg_wait S 30
  [ "$(wc -l <"$S_OUT")" = 3 ]
  [ "$(sed -n 3p "$S_OUT")" = end ]
  [ "$(json_get "$S_OUT" 2 'r["payload"]')" = "{'n': 2}" ]
}

@test "--on-invalid skip reports each bad line and goes on" {
  sub_bg S 2 "$T/s" -F '%p'
  run -0 dtbus pub -t "$T/s" -l --envelope tracker --kind k --on-invalid skip -o json < <(printf '{"n":1}\nnope\n{"n":3}\n')
  assert_line --partial "stdin line 2"
  assert_line --partial '"skipped":1'
  bg_wait S
  [ "$(json_get "$S_OUT" 2 'r["payload"]')" = "{'n': 3}" ]
}

@test "--repeat and --rate" {
  sub_bg S 5 "$T/rep" -F '%p'
  start=$EPOCHREALTIME
  run -0 dtbus pub -t "$T/rep" -m '{"a":1}' --envelope tracker --kind k --repeat 5 --rate 20 -q 1
  elapsed=$(python3 -c "print(float('$EPOCHREALTIME') - float('$start'))")
  bg_wait S
  python3 -c "assert $elapsed >= 0.19, $elapsed"
  # a fresh trace_id per repetition
  [ "$(python3 -c 'import json,sys; print(len({json.loads(l)["trace_id"] for l in open(sys.argv[1])}))' "$S_OUT")" = 5 ]
}

@test "70000 QoS 1 messages are all acknowledged (message ids wrap)" {
  bg_start S dtbus sub -t "$T/many" -q 1 -C 70000 -W 60 -F '{payload}'
  broker_wait_subscribed main "$T/many"
  run -0 bash -c "seq 1 70000 | dtbus pub -t $T/many -l -q 1 -o json"
  assert_output --partial '"published":70000,"acknowledged":70000,"failed":0'
  bg_wait S 60
  [ "$(wc -l <"$S_OUT")" = 70000 ]
  [ "$(sort -n "$S_OUT" | uniq | wc -l)" = 70000 ]
}

@test "a broker restart mid-stream loses no QoS 1 line" {
  # No -C: a QoS 1 message can arrive twice around the restart (at least once); count distinct.
  bg_start S dtbus sub --session "$T-sess" -t "$T/rs" -q 1 -W 90 -F '{payload}'
  broker_wait_subscribed main "$T/rs"
  # A slow producer so the restart lands mid-stream.
  bg_start PUB bash -c "seq 1 20000 | while read -r n; do echo \$n; ((n % 2000 == 0)) && sleep 0.2; done | dtbus pub -t $T/rs -l -q 1 -o json"
  wait_until 20 bash -c "(( \$(grep -c '' '$S_OUT') >= 3000 ))"
  broker_restart main
  bg_wait PUB 60
  run cat "$PUB_OUT"
  assert_output --partial '"published":20000,"acknowledged":20000,"failed":0'
  wait_until 30 bash -c "(( \$(sort -un '$S_OUT' | wc -l) >= 20000 ))"
  bg_stop S
  [ "$(sort -un "$S_OUT" | wc -l)" = 20000 ]
  [ "$(sort -un "$S_OUT" | head -1)" = 1 ] && [ "$(sort -un "$S_OUT" | tail -1)" = 20000 ]
}

@test "--timeout: exit 7 and every unacknowledged message in --failed-out" {
  # Connected first, then the broker hangs (SIGSTOP) before the lines arrive.
  # The lines are written only once the broker is paused (file "go"), so none can be acknowledged.
  bg_start PUB bash -c "(until [ -e go ]; do sleep 0.05; done; printf 'm1\n{\"m\":2}\n') | dtbus pub -i $T-pub -t $T/to -l -q 1 --timeout 1.5 --failed-out failed.jsonl"
  wait_for_line "$BROKER_MAIN_LOG" "$T-pub"
  broker_pause main
  touch go
  run bg_wait PUB 20
  broker_resume main
  [ "$status" = 7 ]
  run cat "$PUB_ERR"
  assert_output --partial "failed.jsonl"
  [ "$(wc -l <failed.jsonl)" = 2 ]
  [ "$(json_get failed.jsonl 1 'r["topic"], r["payload"], r["qos"]')" = "('$T/to', 'm1', 1)" ]
  [ "$(json_get failed.jsonl 2 'r["payload"], r["payload_encoding"]')" = "({'m': 2}, 'json')" ]
  # ready to re-pipe
  sub_bg S 2 "$T/to" -F '%p'
  run -0 dtbus pub --jsonl <failed.jsonl
  bg_wait S
  run cat "$S_OUT"
  assert_output 'm1
{"m":2}'
}

@test "-o json to a full stdout (/dev/full): exit 1 naming stdout, not 0" {
  sub_bg S 1 "$T/full" -q 1
  run --separate-stderr bash -c "dtbus pub -t $T/full -m hi -q 1 -o json >/dev/full"
  assert_equal "$status" 1
  [[ $stderr == "dtbus pub: error: "*"stdout"*"No space left on device"* ]] || fail "$stderr"
  bg_wait S # the message itself was delivered
}

@test "SIGTERM while work is pending exits 130 like SIGINT (SPEC §2), naming the stdin line" {
  sub_bg S 3 "$T/term" -q 1
  mkfifo in.fifo
  bg_start PUB bash -c "exec dtbus pub -t $T/term -l -q 1 --failed-out failed.jsonl < in.fifo"
  local fd
  exec {fd}>in.fifo
  printf 'a\nb\nc\n' >&"$fd"
  bg_wait S
  kill -TERM "$PUB"
  run bg_wait PUB 10
  exec {fd}>&-
  assert_equal "$status" 130
  run cat "$PUB_ERR"
  assert_output --regexp "^dtbus pub: error: interrupted after stdin line 3( \(stdin not read beyond it\))?; the 3 message\(s\) published were all acknowledged"
  [[ ! -e failed.jsonl ]]
}
