#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# dtbus replay against a real mosquitto: order, window, filters, topic map, dry run, retain,
# bad lines, delivery failures and timing. Recordings are written here as JSON Lines in the
# `sub -o json` shape; what was replayed is read with mosquitto_sub.

load helpers/common

setup_file() {
  dtbus_isolate_env
  broker_start main
}

teardown_file() { cleanup_all; }

# Every test uses its own topics (t<N>/...), so retained state and subscribers never mix.
setup() {
  dtbus_isolate_env
  T=t$BATS_TEST_NUMBER
  REC=$BATS_TEST_TMPDIR/rec.jsonl
}

teardown() { cleanup_all; }

replay() { dtbus replay -H 127.0.0.1 -p "$BROKER_MAIN_PORT" "$@"; }

# records N GAP_MS TOPIC [START_EPOCH_S] [KEY=VALUE...]: N records GAP_MS apart on TOPIC with
# payload {"i":k, KEY:VALUE...} and received_at in RFC 3339 (ms).
records() {
  "$DTBUS_PYTHON" - "$@" <<'PY'
import datetime, json, sys
n, gap, topic = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
start = float(sys.argv[4]) if len(sys.argv) > 4 else 1795423048.0
extra = dict(a.split("=", 1) for a in sys.argv[5:])
for i in range(n):
    t = datetime.datetime.fromtimestamp(start + i * gap / 1000, datetime.timezone.utc)
    stamp = t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000)
    print(json.dumps({"topic": topic, "payload": dict({"i": i}, **extra), "payload_encoding": "json",
                      "qos": 1, "retain": False, "received_at": stamp}))
PY
}

# sub_start FILTER COUNT [FORMAT]: a QoS 2 subscriber (delivers at the published QoS) that exits after COUNT messages.
sub_start() {
  bg_start SUB mosquitto_sub -p "$BROKER_MAIN_PORT" -q 2 -V 5 -t "$1" -C "$2" -W 20 -F "${3:-%t %p}"
  broker_wait_subscribed main "$1"
}

sub_output() {
  bg_wait SUB 20
  cat "$SUB_OUT"
}

json_field() {
  "$DTBUS_PYTHON" -c 'import json,sys; v=json.loads(sys.stdin.read()); print(json.dumps(v[sys.argv[1]]))' "$1"
}

@test "order and payloads are kept; the JSON summary counts them" {
  records 40 1 "$T/a" > "$REC"
  sub_start "$T/#" 40
  run -0 --separate-stderr replay --speed 0 -o json "$REC"
  [[ $(json_field read <<<"$output") == 40 ]]
  [[ $(json_field matched <<<"$output") == 40 ]]
  [[ $(json_field published <<<"$output") == 40 ]]
  [[ $(json_field acknowledged <<<"$output") == 40 ]]
  [[ $(json_field failed <<<"$output") == 0 ]]
  [[ $(json_field duration_s <<<"$output") =~ ^[0-9.e-]+$ ]]
  run -0 sub_output
  expected=$(for i in $(seq 0 39); do echo "$T/a {\"i\":$i}"; done)
  assert_output "$expected"
}

@test "several files and stdin: file order kept, records sent as they are (utf8, base64)" {
  records 3 10 "$T/a" > "$REC"
  printf '%s\n' "{\"topic\":\"$T/b\",\"payload\":\"hello\",\"payload_encoding\":\"utf8\",\"ts\":1}" \
    "{\"topic\":\"$T/b\",\"payload\":\"AAEC/w==\",\"payload_encoding\":\"base64\",\"ts\":2}" \
    > "$BATS_TEST_TMPDIR/more.jsonl"
  sub_start "$T/#" 5 '%t %x'
  run -0 replay --speed 0 "$REC" - < "$BATS_TEST_TMPDIR/more.jsonl"
  run -0 sub_output
  assert_line --index 0 "$T/a $(printf '{"i":0}' | od -An -tx1 | tr -d ' \n')"
  assert_line --index 2 "$T/a $(printf '{"i":2}' | od -An -tx1 | tr -d ' \n')"
  assert_line --index 3 "$T/b 68656c6c6f"
  assert_line --index 4 "$T/b 000102ff"
}

@test "--since is inclusive, --until exclusive (epoch seconds and RFC 3339)" {
  records 10 1000 "$T/w" 1700000000 > "$REC"  # i at 1700000000 + i seconds
  sub_start "$T/w" 4
  run -0 --separate-stderr replay --speed 0 -o json --since 1700000003 \
    --until 2023-11-14T22:13:27Z "$REC"       # = 1700000007
  [[ $(json_field matched <<<"$output") == 4 ]]
  run -0 sub_output
  assert_output "$(printf '%s\n' "$T/w {\"i\":3}" "$T/w {\"i\":4}" "$T/w {\"i\":5}" "$T/w {\"i\":6}")"
  # Consecutive windows split the records without overlap.
  run -0 --separate-stderr replay --dry-run -o json --until 1700000005 "$REC"
  [[ $(json_field matched <<<"$output") == 5 ]]
  run -0 --separate-stderr replay --dry-run -o json --since 1700000005 "$REC"
  [[ $(json_field matched <<<"$output") == 5 ]]
}

@test "--topic keeps records whose topic matches any filter" {
  { records 2 1 "$T/s/k1/temp"; records 2 1 "$T/s/k1/hum"; records 1 1 "$T/alerts/x"; } > "$REC"
  sub_start "$T/#" 3
  run -0 --separate-stderr replay --speed 0 -o json --topic "$T/s/+/temp" --topic "$T/alerts/#" "$REC"
  [[ $(json_field matched <<<"$output") == 3 ]]
  run -0 sub_output
  assert_output "$(printf '%s\n' "$T/s/k1/temp {\"i\":0}" "$T/s/k1/temp {\"i\":1}" "$T/alerts/x {\"i\":0}")"
  run -2 --separate-stderr replay --speed 0 --topic "$T/a#" "$REC"
  [[ $stderr == *"invalid topic filter '$T/a#'"* ]]
}

@test "--kind matches tracker kind or dt @type" {
  { records 2 1 "$T/e" 1795423048 kind=project_created
    records 1 1 "$T/e" 1795423048 kind=other
    records 1 1 "$T/e" 1795423048 @type=dt.Alarm; } > "$REC"
  sub_start "$T/e" 3 '%p'
  run -0 --separate-stderr replay --speed 0 -o json --kind project_created --kind dt.Alarm "$REC"
  [[ $(json_field matched <<<"$output") == 3 ]]
  run -0 sub_output
  assert_line --index 0 '{"i":0,"kind":"project_created"}'
  assert_line --index 1 '{"i":1,"kind":"project_created"}'
  assert_line --index 2 '{"i":0,"@type":"dt.Alarm"}'
}

@test "--where PATH=VALUE: every condition must match" {
  { records 2 1 "$T/e" 1795423048 status=active
    records 2 1 "$T/e" 1795423048 status=idle; } > "$REC"
  sub_start "$T/e" 1 '%p'
  run -0 --separate-stderr replay --speed 0 -o json --where status=active --where i=1 "$REC"
  [[ $(json_field matched <<<"$output") == 1 ]]
  run -0 sub_output
  assert_output '{"i":1,"status":"active"}'
  run -2 --separate-stderr replay --where nonsense "$REC"
  [[ $stderr == *"--where 'nonsense'"* ]]
}

@test "--topic-map rewrites prefixes (first match wins); a bad result names the line" {
  { records 1 1 "$T/prod/eu/a"; records 1 1 "$T/prod/us/b"; records 1 1 "$T/other"; } > "$REC"
  sub_start "$T/#" 3 '%t'
  run -0 replay --speed 0 --topic-map "$T/prod/eu/=$T/stage/eu-copy/" \
    --topic-map "$T/prod/=$T/stage/" "$REC"
  run -0 sub_output
  assert_output "$(printf '%s\n' "$T/stage/eu-copy/a" "$T/stage/us/b" "$T/other")"
  run -2 --separate-stderr replay --speed 0 --topic-map "$T/other=" "$REC"
  [[ $stderr == *"rec.jsonl:3: topic '$T/other' maps to ''"* ]]
  run -2 --separate-stderr replay --topic-map "a=b/#" "$REC"
  [[ $stderr == *"--topic-map 'a=b/#'"* ]]
}

@test "--dry-run prints counts per topic and the span, and connects to nothing" {
  { records 3 500 "$T/a"; records 2 250 "$T/b"; } > "$REC"
  closed=$(free_port)
  run -0 --separate-stderr dtbus replay -H 127.0.0.1 -p "$closed" --dry-run "$REC"
  assert_line --partial "5 of 5 records would be published to 2 topics"
  assert_line "time span: 2026-11-23T08:37:28.000Z .. 2026-11-23T08:37:29.000Z (1.000 s)"
  assert_line --regexp "^ +3  $T/a$"
  assert_line --regexp "^ +2  $T/b$"
  # The second file starts earlier: its records are due in the past (t0 + (ts - ts0)), sent at
  # once, so the replay takes the first file's 1.0 s at speed 1.
  assert_line "estimated duration: 1.000 s"
  run -0 --separate-stderr dtbus replay -p "$closed" --dry-run --speed 2 -o json "$REC"
  "$DTBUS_PYTHON" - "$output" "$T" <<'PY'
import json, sys
s, t = json.loads(sys.argv[1]), sys.argv[2]
assert s["dry_run"] is True and s["read"] == 5 and s["matched"] == 5, s
assert s["topics"] == {t + "/a": 3, t + "/b": 2}, s
assert s["first"] == "2026-11-23T08:37:28.000Z" and s["last"] == "2026-11-23T08:37:29.000Z", s
assert abs(s["estimated_duration_s"] - 0.5) < 1e-6, s
PY
  # And nothing reached the broker: a replay for real now is the first message on the topic.
  sub_start "$T/#" 1
  run -0 replay --speed 0 --topic "$T/b" "$REC"
  run -0 sub_output
  assert_output "$T/b {\"i\":0}"
}

@test "--retain strip (default) leaves no retained message; keep restores it" {
  printf '%s\n' "{\"topic\":\"$T/r\",\"payload\":\"state-1\",\"retain\":true,\"qos\":1,\"ts\":1}" > "$REC"
  run -0 replay --speed 0 "$REC"
  # A fresh subscriber gets nothing retained (mosquitto_sub -W: exit 27 on timeout).
  run -27 mosquitto_sub -p "$BROKER_MAIN_PORT" -t "$T/r" -C 1 -W 1
  run -0 replay --speed 0 --retain keep "$REC"
  run -0 mosquitto_sub -p "$BROKER_MAIN_PORT" -t "$T/r" -C 1 -W 5 -F '%r %p'
  assert_output "1 state-1"
  mosquitto_pub -p "$BROKER_MAIN_PORT" -t "$T/r" -r -n
}

@test "--qos overrides the recorded QoS; records without qos go at QoS 1" {
  printf '%s\n' "{\"topic\":\"$T/q\",\"payload\":\"a\",\"qos\":0,\"ts\":1}" \
    "{\"topic\":\"$T/q\",\"payload\":\"b\",\"ts\":2}" > "$REC"
  sub_start "$T/q" 2 '%q %p'
  run -0 replay --speed 0 "$REC"
  run -0 sub_output
  assert_output "$(printf '%s\n' '0 a' '1 b')"
  sub_start "$T/q" 2 '%q %p'
  run -0 replay --speed 0 --qos 2 "$REC"
  run -0 sub_output
  assert_output "$(printf '%s\n' '2 a' '2 b')"
}

@test "a bad line stops with exit 2 naming file:line, after sending the lines before it" {
  { records 2 1 "$T/a"; echo '{"topic": broken'; records 1 1 "$T/a"; } > "$REC"
  sub_start "$T/a" 2
  run -2 --separate-stderr replay --speed 0 "$REC"
  [[ $stderr == *"dtbus replay: error: $REC:3: not valid JSON"* ]]
  run -0 sub_output
  assert_output "$(printf '%s\n' "$T/a {\"i\":0}" "$T/a {\"i\":1}")"
}

@test "--on-invalid skip reports each bad line and replays the rest" {
  { records 1 1 "$T/a"
    echo 'not json'
    echo "{\"topic\":\"$T/a\",\"payload\":1,\"received_at\":\"yesterday\"}"
    echo "{\"topic\":\"$T/a\",\"payload\":\"%%\",\"payload_encoding\":\"base64\",\"ts\":1}"
    records 1 1 "$T/a"; } > "$REC"
  sub_start "$T/a" 2
  run -0 --separate-stderr replay --speed 0 --on-invalid skip -o json "$REC"
  [[ $(json_field read <<<"$output") == 5 ]]
  [[ $(json_field skipped <<<"$output") == 3 ]]
  [[ $(json_field published <<<"$output") == 2 ]]
  [[ $stderr == *"$REC:2: not valid JSON"* ]]
  [[ $stderr == *"$REC:3: \"received_at\" is not a time: \"yesterday\""* ]]
  [[ $stderr == *"$REC:4: \"payload\" is not valid base64"* ]]
  run -0 sub_output
  assert_output "$(printf '%s\n' "$T/a {\"i\":0}" "$T/a {\"i\":0}")"
}

@test "a time is required to keep gaps; --speed 0 replays records without one" {
  printf '%s\n' "{\"topic\":\"$T/n\",\"payload\":1}" > "$REC"
  run -2 --separate-stderr replay "$REC"
  [[ $stderr == *"$REC:1: no time: expected one of received_at, created_at, timestamp, ts"* ]]
  sub_start "$T/n" 1
  run -0 replay --speed 0 "$REC"
  run -0 sub_output
  assert_output "$T/n 1"
}

@test "--loop N plays the file N times in order; --loop with stdin is a usage error" {
  records 3 5 "$T/l" > "$REC"
  sub_start "$T/l" 6 '%p'
  run -0 --separate-stderr replay --loop 2 -o json "$REC"
  [[ $(json_field published <<<"$output") == 6 ]]
  run -0 sub_output
  assert_output "$(printf '%s\n' '{"i":0}' '{"i":1}' '{"i":2}' '{"i":0}' '{"i":1}' '{"i":2}')"
  run -2 --separate-stderr replay --loop 2 - < "$REC"
  [[ $stderr == *"--loop needs input files"* ]]
}

@test "refused messages: exit 7 and --failed-out holds them, ready for pub --jsonl" {
  acl=$BATS_TEST_TMPDIR/acl
  printf 'topic readwrite %s/ok/#\n' "$T" > "$acl"
  broker_start acl --extra "acl_file $acl"
  { records 1 1 "$T/ok/a"; records 2 1 "$T/denied/b"; records 1 1 "$T/ok/c"; } > "$REC"
  run -7 --separate-stderr dtbus replay -H 127.0.0.1 -p "$BROKER_ACL_PORT" --speed 0 -o json \
    --failed-out "$BATS_TEST_TMPDIR/failed.jsonl" "$REC"
  [[ $(json_field published <<<"$output") == 4 ]]
  [[ $(json_field acknowledged <<<"$output") == 2 ]]
  [[ $(json_field failed <<<"$output") == 2 ]]
  [[ $stderr == *"2 of 4 message(s) not acknowledged; saved to $BATS_TEST_TMPDIR/failed.jsonl"* ]]
  run -0 "$DTBUS_PYTHON" -c 'import json,sys; [print(json.loads(l)["topic"]) for l in open(sys.argv[1])]' \
    "$BATS_TEST_TMPDIR/failed.jsonl"
  assert_output "$(printf '%s\n' "$T/denied/b" "$T/denied/b")"
}

@test "missing input file and bad option values are usage errors before connecting" {
  run -2 --separate-stderr dtbus replay -p "$(free_port)" "$BATS_TEST_TMPDIR/nope.jsonl"
  [[ $stderr == "dtbus replay: error: cannot read '$BATS_TEST_TMPDIR/nope.jsonl'"* ]]
  records 1 1 "$T/x" > "$REC"
  run -2 --separate-stderr dtbus replay --since tomorrow "$REC"
  [[ $stderr == *"--since 'tomorrow'"* ]]
  run -2 --separate-stderr dtbus replay --speed -1 "$REC"
  [[ $stderr == *"--speed"* ]]
  run -2 --separate-stderr dtbus replay --retain maybe "$REC"
  [[ $stderr == *"--retain"* ]]
}

@test "--progress draws count/total, rate and ETA on stderr; off when not a TTY" {
  records 5 1 "$T/p" > "$REC"
  run -0 --separate-stderr replay --speed 0 --progress "$REC"
  [[ $stderr == *"/5 "*"ETA"* ]]
  run -0 --separate-stderr replay --speed 0 "$REC"
  [[ $stderr != *"ETA"* ]]
  assert_equal "$stderr" "dtbus replay: 5 read, 5 matched, 5 published, 5 acknowledged, 0 failed in ${stderr##* in }"
}

# Timing: the span between the first and last message as the subscriber receives them (its own
# receive timestamps, so process start-up and connect time do not count).
span_ms() {
  "$DTBUS_PYTHON" -c 'import sys; t=[float(l) for l in open(sys.argv[1]) if l.strip()]; print(round((t[-1]-t[0])*1000))' "$SUB_OUT"
}

@test "timing: 20 records 50 ms apart take 950 ms at --speed 1 and 475 ms at --speed 2 (±15%)" {
  records 20 50 "$T/tm" > "$REC"
  sub_start "$T/tm" 20 '%U'
  run -0 replay "$REC"
  bg_wait SUB 20
  span=$(span_ms)
  echo "speed 1: ${span} ms" >&3
  (( span >= 807 && span <= 1093 ))
  sub_start "$T/tm" 20 '%U'
  run -0 replay --speed 2 "$REC"
  bg_wait SUB 20
  span=$(span_ms)
  echo "speed 2: ${span} ms" >&3
  (( span >= 403 && span <= 547 ))
}

@test "--max-gap caps long waits; --rate caps the pace" {
  { records 2 50 "$T/g"; records 2 50 "$T/g" 1795426648; } > "$REC"  # an hour-long hole
  sub_start "$T/g" 4 '%U'
  run -0 replay --max-gap 0.1 "$REC"
  bg_wait SUB 20
  span=$(span_ms)
  (( span >= 170 && span <= 400 ))  # 50 + 100 + 50 ms
  records 11 0 "$T/g" > "$REC"
  sub_start "$T/g" 11 '%U'
  run -0 replay --speed 0 --rate 50 "$REC"
  bg_wait SUB 20
  span=$(span_ms)
  (( span >= 170 && span <= 400 ))  # 10 intervals of 20 ms
}

@test "SIGINT stops the replay: messages sent so far are acknowledged, exit 130" {
  records 3 10000 "$T/i" > "$REC"  # 10 s apart
  sub_start "$T/i" 1
  bg_start REPLAY dtbus replay -H 127.0.0.1 -p "$BROKER_MAIN_PORT" -o json "$REC"
  bg_wait SUB 10
  kill -INT "$REPLAY"
  run bg_wait REPLAY 5
  assert_equal "$status" 130
  run json_field published < "$REPLAY_OUT"
  assert_output 1
  run json_field acknowledged < "$REPLAY_OUT"
  assert_output 1
  grep -q "dtbus replay: error: interrupted" "$REPLAY_ERR"
}

# dry_estimate ARGS...: estimated_duration_s of `replay --dry-run -o json ARGS`.
dry_estimate() {
  replay --dry-run -o json "$@" | json_field estimated_duration_s
}

@test "huge --max-gap, tiny --speed and tiny --rate saturate instead of overflowing into zero waits" {
  records 2 1000 "$T/h" > "$REC" # 1 s apart
  run -0 dry_estimate --max-gap 1e300 "$REC"
  assert_output "1.0"
  run -0 dry_estimate --max-gap 1e300 --speed 1e300 "$REC"
  assert_output "0.0"
  # A wait beyond 31.7 years is capped there (1e9 s), never wrapped to 0 or below.
  run -0 dry_estimate --speed 1e-300 "$REC"
  assert_output "1000000000.0"
  run -0 dry_estimate --speed 0 --rate 1e-300 "$REC"
  assert_output "1000000000.0"
  run -0 dry_estimate --speed 0 --rate 1e300 "$REC"
  assert_output "0.0"
  # The real replay waits the second too.
  sub_start "$T/h" 2 '%U'
  run -0 replay --max-gap 1e300 "$REC"
  bg_wait SUB 20
  span=$(span_ms)
  echo "--max-gap 1e300: ${span} ms" >&3
  ((span >= 850 && span <= 1300))
  run -2 replay --speed 1e400 "$REC" # parsed as infinity
  assert_output --partial "--speed must be a number >= 0"
}

@test "an earlier record after a later one is sent at once; the next keeps t0 + (ts - ts0)" {
  # Times 0, 600, 150 (earlier), 900 ms: sent at 0, 600, 600, 900 (not 0, 600, 600, 1350).
  "$DTBUS_PYTHON" - "$T/o" > "$REC" <<'PY'
import json, sys
for i, ms in enumerate([0, 600, 150, 900]):
    print(json.dumps({"topic": sys.argv[1], "payload": {"i": i}, "received_at": 1795423048000 + ms}))
PY
  sub_start "$T/o" 4 '%U %p'
  run -0 replay "$REC"
  bg_wait SUB 20
  cat "$SUB_OUT"
  run -0 "$DTBUS_PYTHON" - "$SUB_OUT" <<'PY'
import json, sys
rows = [l.split(" ", 1) for l in open(sys.argv[1]) if l.strip()]
t = {json.loads(p)["i"]: float(u) for u, p in rows}
offsets = [round((t[i] - t[0]) * 1000) for i in range(4)]
print(offsets)
assert [json.loads(p)["i"] for u, p in rows] == [0, 1, 2, 3], "order kept"
assert 500 <= offsets[1] <= 750 and 500 <= offsets[2] <= 800, offsets
assert 800 <= offsets[3] <= 1100, offsets  # 1350 if the backward jump added delay
PY
  echo "$output" >&3
  run -0 dry_estimate "$REC"
  assert_output "0.9"
}

@test "--time-field: DataKnobs events without received_at are timed by their payload timestamp" {
  local dk="$DTBUS_SOURCE_DIR/tests/fixtures/dataknobs_events.py"
  # Four events 300 ms apart, naive and +00:00 isoformat() timestamps mixed, no received_at.
  "$DTBUS_PYTHON" "$dk" 4 300 1795423048 "$T/registry:bots" mixed > "$REC"
  grep -q '"timestamp": "2026-11-23T08:37:28"' "$REC"          # naive, no fraction
  grep -q '"timestamp": "2026-11-23T08:37:28.300000+00:00"' "$REC" # aware, microseconds
  run -2 replay "$REC" # no time of its own: gaps cannot be kept
  assert_output --partial "rec.jsonl:1: no time"
  run -0 --separate-stderr replay --dry-run -o json --time-field timestamp "$REC"
  [[ $output == *'"first":"2026-11-23T08:37:28.000Z","last":"2026-11-23T08:37:28.900Z","span_s":0.9'* ]] ||
    fail "$output"
  # The window applies to the payload time too (half-open).
  run -0 --separate-stderr replay --dry-run -o json --time-field timestamp \
    --since 2026-11-23T08:37:28.300Z --until 2026-11-23T08:37:28.900Z "$REC"
  [[ $output == *'"matched":2,'* ]] || fail "$output"
  sub_start "$T/registry:bots" 4 '%U %p'
  run -0 replay --time-field timestamp "$REC"
  bg_wait SUB 20
  run -0 "$DTBUS_PYTHON" - "$SUB_OUT" <<'PY'
import json, sys
rows = [l.split(" ", 1) for l in open(sys.argv[1]) if l.strip()]
assert [json.loads(p)["payload"]["bot_id"] for u, p in rows] == ["bot-%d" % i for i in range(4)]
span = round((float(rows[-1][0]) - float(rows[0][0])) * 1000)
print(span)
assert 765 <= span <= 1100, span  # 900 ms
PY
  echo "--time-field timestamp: $output ms" >&3
  # received_at wins where a record has it; a payload field that is not a time names the line.
  printf '%s\n' '{"topic":"x","payload":{"timestamp":"soon"},"received_at":"2026-11-23T08:37:28Z"}' \
    '{"topic":"x","payload":{"timestamp":"soon"}}' > bad.jsonl
  run -2 replay --dry-run --time-field timestamp bad.jsonl
  assert_output --partial 'bad.jsonl:2: payload field "timestamp" (--time-field) is not a time: "soon"'
  run -2 replay --dry-run --time-field 'meta..at' bad.jsonl
  assert_output --partial "--time-field 'meta..at': expected a dotted path"
}
