#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# dtbus sub against a real mosquitto: filters, -C/-W exit codes, output formats (json valid for
# any payload, raw, text, -F), --where, --validate, retained handling, shared and durable
# subscriptions, --record, --stats, signals and closed pipes. Messages come from mosquitto_pub.

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
default_broker: main
EOF
}

teardown() { cleanup_all; }

mpub() { mosquitto_pub -h 127.0.0.1 -p "$P" "$@"; }

# sub_bg VAR FILTER ARGS... — dtbus sub in the background, subscribed before returning
sub_bg() {
  local var=$1 filter=$2
  shift 2
  bg_start "$var" dtbus sub -t "$filter" "$@"
  broker_wait_subscribed main "${WAIT_FILTER:-$filter}"
}

# Every line of FILE is a JSON object (python check); prints them re-dumped with sorted keys.
json_lines() {
  python3 -c 'import json,sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    r.pop("received_at"); r.pop("mid", None)
    print(json.dumps(r, sort_keys=True, ensure_ascii=False))' "$1"
}

@test "-C N exits 0 after N messages; filters as -t and arguments with + and #" {
  bg_start S dtbus sub -t "$T/+/temp" "$T/b/#" -C 3 -W 10 -o json
  broker_wait_subscribed main "$T/b/#"
  mpub -t "$T/x/temp" -m 1
  mpub -t "$T/x/hum" -m no
  mpub -t "$T/b" -m 2
  mpub -t "$T/b/c/d" -m 3
  bg_wait S
  run python3 -c 'import json,sys; print([json.loads(l)["topic"] for l in open(sys.argv[1])])' "$S_OUT"
  assert_output "['$T/x/temp', '$T/b', '$T/b/c/d']"
}

@test "-W exits 6 when nothing arrived or -C was not reached, 0 otherwise" {
  run -6 dtbus sub -t "$T/none" -W 0.5
  assert_output --partial "no message within 0.5 s"
  sub_bg S "$T/w" -C 5 -W 2
  mpub -t "$T/w" -m one
  run bg_wait S
  [ "$status" = 6 ]
  grep -q "only 1 of 5" "$S_ERR"
  sub_bg S2 "$T/w2" -W 1.5
  mpub -t "$T/w2" -m one
  run -0 bg_wait S2
}

@test "-o json is valid JSON for JSON, text, binary and non-UTF-8 payloads" {
  sub_bg S "$T/j" -C 5 -W 10 -o json -q 1
  mpub -t "$T/j" -m '{"b":1,"a":[1,2]}' -q 1
  mpub -t "$T/j" -m '{"b":1, "a":2.50}'
  mpub -t "$T/j" -m 'héllo "world"'
  printf '\xff\xfe\x00\x01' >bin && mpub -t "$T/j" -f bin
  mpub -t "$T/j" -n
  bg_wait S
  run json_lines "$S_OUT"
  assert_output "{\"payload\": {\"a\": [1, 2], \"b\": 1}, \"payload_encoding\": \"json\", \"qos\": 1, \"retain\": false, \"topic\": \"$T/j\"}
{\"payload\": {\"a\": 2.5, \"b\": 1}, \"payload_encoding\": \"json\", \"payload_text\": \"{\\\"b\\\":1, \\\"a\\\":2.50}\", \"qos\": 0, \"retain\": false, \"topic\": \"$T/j\"}
{\"payload\": \"héllo \\\"world\\\"\", \"payload_encoding\": \"utf8\", \"qos\": 0, \"retain\": false, \"topic\": \"$T/j\"}
{\"payload\": \"//4AAQ==\", \"payload_encoding\": \"base64\", \"qos\": 0, \"retain\": false, \"topic\": \"$T/j\"}
{\"payload\": \"\", \"payload_encoding\": \"utf8\", \"qos\": 0, \"retain\": false, \"topic\": \"$T/j\"}"
  # key order of a JSON payload is kept
  grep -q '"payload":{"b":1,"a":\[1,2\]}' "$S_OUT"
  python3 -c 'import json,sys,re
r = json.loads(open(sys.argv[1]).readline())
assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", r["received_at"]), r' "$S_OUT"
}

@test "-o json is the default off a TTY; -o raw prints payload bytes; -F renders a template" {
  sub_bg S "$T/f" -C 2 -W 10
  sub_bg R "$T/f" -C 2 -W 10 -o raw
  WAIT_FILTER=$T/f sub_bg F "$T/f" -C 2 -W 10 -F '{topic}\t{qos}{{x}}{payload.kind}|{payload}'
  broker_wait_subscribed main "$T/f" 3
  mpub -t "$T/f" -m '{"kind":"created"}'
  mpub -t "$T/f" -m 'plain'
  bg_wait S && bg_wait R && bg_wait F
  [ "$(head -c 10 "$S_OUT")" = '{"topic":"' ]
  run cat "$R_OUT"
  assert_output '{"kind":"created"}
plain'
  run cat "$F_OUT"
  assert_output "$T/f	0{x}created|{\"kind\":\"created\"}
$T/f	0{x}|plain"
  run -2 dtbus sub -t "$T/f" -F '{bogus}'
  assert_output --partial "{bogus}"
}

@test "text output: time, aligned topic, QoS/retain marks, compact JSON; no colour off a TTY" {
  mpub -t "$T/text/long/topic" -m '{ "a" : 1 }' -r -q 1
  sub_bg S "$T/text/#" -C 2 -W 10 -o text -q 1
  mpub -t "$T/text/s" -m hi
  bg_wait S
  run cat "$S_OUT"
  assert_line --index 0 --regexp "^[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}  $T/text/long/topic  q1 r  \{\"a\":1\}$"
  assert_line --index 1 --regexp "^[0-9:.]{12}  $T/text/s +q0    hi$"
  first=${lines[0]%%q1 r*} second=${lines[1]%%q0*}
  [ "${#first}" = "${#second}" ]  # QoS column aligned
  ! grep -q $'\x1b' "$S_OUT"
  mpub -t "$T/text/long/topic" -r -n
}

@test "--where keeps messages whose fields all match" {
  sub_bg S "$T/wh" -C 2 -W 10 -F '{payload.id}' --where kind=created --where payload.status=active
  mpub -t "$T/wh" -m '{"kind":"created","id":1,"payload":{"status":"closed"}}'
  mpub -t "$T/wh" -m 'not json'
  mpub -t "$T/wh" -m '{"kind":"deleted","id":2,"payload":{"status":"active"}}'
  mpub -t "$T/wh" -m '{"kind":"created","id":3,"payload":{"status":"active"}}'
  mpub -t "$T/wh" -m '{"kind":"created","id":4,"payload":{"status":"active"}}'
  bg_wait S
  run cat "$S_OUT"
  assert_output "3
4"
}

@test "--validate tracker marks invalid messages without dropping them" {
  sub_bg S "$T/v" -C 3 -W 10 -o json --validate tracker
  dtbus pub -t "$T/v" -m '{"x":1}' --envelope tracker --kind k
  mpub -t "$T/v" -m '{"trace_id":"nope","ts":"2026-01-01T00:00:00Z","kind":"k","payload":{}}'
  mpub -t "$T/v" -m 'text'
  bg_wait S
  run python3 -c 'import json,sys
for l in open(sys.argv[1]):
    r = json.loads(l); print(r["valid"], r["errors"])' "$S_OUT"
  assert_output "True []
False ['missing required field(s): idempotency_key', '\"trace_id\" is not a UUID']
False ['processing error: payload is not JSON']"
}

@test "--validate dt in text output" {
  sub_bg S "$T/v" -C 2 -W 10 -o text --validate dt
  dtbus pub -t "$T/v" -m '{}' --envelope dt --type T1
  mpub -t "$T/v" -m '{"@type":"x"}'
  bg_wait S
  run cat "$S_OUT"
  assert_line --index 0 --partial "valid"
  assert_line --index 1 --partial 'invalid: missing required field(s): @context, id,'
}

@test "--no-retained skips retained messages, --retained-only stops at the first live one" {
  mpub -t "$T/r/a" -m old-a -r
  mpub -t "$T/r/b" -m old-b -r
  sub_bg N "$T/r/#" -C 1 -W 10 -o raw --no-retained
  mpub -t "$T/r/a" -m live
  bg_wait N
  [ "$(cat "$N_OUT")" = live ]
  # --retained-only without -C must stop by itself at the first live message, which it does not print.
  bg_start R dtbus sub -t "$T/r/#" -o raw --retained-only -W 10
  wait_for_file_lines "$R_OUT" 2
  mpub -t "$T/r/c" -m live2
  run -0 bg_wait R 15
  [ "$(sort "$R_OUT" | tr '\n' ' ')" = "old-a old-b " ]
  mpub -t "$T/r/a" -r -n
  mpub -t "$T/r/b" -r -n
}

@test "--retained-only prints retained messages" {
  mpub -t "$T/ro" -m kept -r
  run -0 timeout 10 dtbus sub -t "$T/ro" -o raw --retained-only -C 1
  assert_output kept
  mpub -t "$T/ro" -r -n
}

@test "--share splits messages between two subscribers with none lost" {
  # No -W: a slow start (sanitizer builds) must not end a worker before the stream.
  WAIT_FILTER="\$share/g/$T/s" sub_bg A "$T/s" --share g -q 1 -F '{payload}'
  WAIT_FILTER="\$share/g/$T/s" sub_bg B "$T/s" --share g -q 1 -F '{payload}'
  broker_wait_subscribed main "\$share/g/$T/s" 2
  seq 1 200 | dtbus pub -t "$T/s" -l -q 1
  wait_until 30 bash -c "(( \$(cat '$A_OUT' '$B_OUT' | wc -l) >= 200 ))"
  bg_stop A
  bg_stop B
  a=$(wc -l <"$A_OUT")
  b=$(wc -l <"$B_OUT")
  ((a > 0 && b > 0))
  [ "$(cat "$A_OUT" "$B_OUT" | sort -n | uniq | wc -l)" = 200 ]
  [ $((a + b)) = 200 ]
}

@test "--session receives QoS 1 messages published while it was away" {
  run -6 dtbus sub --session "$T-durable" -t "$T/d" -W 0.5  # attach
  dtbus pub -t "$T/d" -l -q 1 < <(seq 1 50)
  run -0 dtbus sub --session "$T-durable" -t "$T/d" -C 50 -W 10 -F '{payload}'
  [ "$(echo "$output" | sort -n | uniq | wc -l)" = 50 ]
  [ "$(echo "$output" | head -1)" = 1 ]
}

@test "--record appends the json shape, flushed per message; --stats on stderr" {
  sub_bg S "$T/rec" -W 10 -o raw --record rec.jsonl --stats
  mpub -t "$T/rec" -m '{"a":1}'
  wait_for_file_lines rec.jsonl 1
  mpub -t "$T/rec" -m two
  wait_for_file_lines rec.jsonl 2
  bg_stop S INT
  run json_lines rec.jsonl
  assert_output "{\"payload\": {\"a\": 1}, \"payload_encoding\": \"json\", \"qos\": 0, \"retain\": false, \"topic\": \"$T/rec\"}
{\"payload\": \"two\", \"payload_encoding\": \"utf8\", \"qos\": 0, \"retain\": false, \"topic\": \"$T/rec\"}"
  grep -qE "2 messages in [0-9.]+ s \([0-9.]+ msg/s\), 10 payload bytes" "$S_ERR"
}

@test "SIGINT and SIGTERM end with 0 and flushed output" {
  for sig in INT TERM; do
    bg_start S dtbus sub -t "$T/$sig" -o json
    broker_wait_subscribed main "$T/$sig"
    mpub -t "$T/$sig" -m "$sig"
    wait_for_file_lines "$S_OUT" 1
    kill -"$sig" "$S"
    run bg_wait S 5
    [ "$status" = 0 ]
    grep -q "\"payload\":\"$sig\"" "$S_OUT"
  done
}

@test "dtbus sub | head -1 ends quietly with 0" {
  bg_start PIPE bash -c "set -o pipefail; dtbus sub -t '$T/h' -o raw | head -1"
  broker_wait_subscribed main "$T/h"
  # head exits after the first line; the next messages make sub write into the closed pipe.
  for i in 1 2 3; do mosquitto_pub -h 127.0.0.1 -p "$P" -t "$T/h" -m "line$i"; done
  run -0 bg_wait PIPE 30
  run cat "$PIPE_OUT"
  assert_output line1
  run cat "$PIPE_ERR"
  assert_output ""
}

@test "a filter with * ? [ is warned about (taken literally by MQTT); --match GLOB filters topics" {
  # DataKnobs topics and fnmatch patterns (seed 004): registry:bots, registry:bots:config, ...
  run -6 --separate-stderr dtbus sub -t 'registry:*' -W 0.3
  assert_equal "${stderr_lines[0]}" "dtbus sub: warning: topic filter 'registry:*': '*', '?' and '[' are not MQTT wildcards (those are + and #), so it matches only a topic spelled exactly so; for a glob, subscribe wider and filter with --match (e.g. -t '#' --match 'registry:*')"
  WAIT_FILTER="$T/#" sub_bg S "$T/#" --match "$T/registry:*" --match "$T/knowledge:[a-m]?-domain" \
    -F '{topic} {payload}' -C 5 -W 10
  for topic in registry:bots other:x registry:bots:config registry:a/b knowledge:my-domain \
    knowledge:zz-domain registry/x/y; do
    mpub -t "$T/$topic" -q 1 -m "$topic"
  done
  mpub -t "$T/registry:last" -m last
  run -0 bg_wait S 10
  run cat "$S_OUT"
  assert_output "$T/registry:bots registry:bots
$T/registry:bots:config registry:bots:config
$T/registry:a/b registry:a/b
$T/knowledge:my-domain knowledge:my-domain
$T/registry:last last"
  run cat "$S_ERR"
  assert_output ""
}
