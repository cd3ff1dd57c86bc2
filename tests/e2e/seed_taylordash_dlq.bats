#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# dtbus dlq against TaylorDash's own dead letters (seed 001): a processor and producers written
# like the seed's code (tests/fixtures/taylordash, paho-mqtt, MQTT 3.1.1 so no properties travel)
# make the DLQ bodies exactly as its _send_to_dlq does; dtbus recovers them with no flags.

load helpers/common

FIX=$DTBUS_SOURCE_DIR/tests/fixtures/taylordash

setup() {
  dtbus_isolate_env
  broker_start main
  ACCEPTED=$BATS_TEST_TMPDIR/accepted.jsonl
  DB_DOWN=$BATS_TEST_TMPDIR/db-down
  write_broker_config ""
}

# TaylorDash's broker as a user writes it: no dlq section, the defaults (tracker/dlq/#) apply.
write_broker_config() {
  local prefix=${1:+, topic_prefix: \"$1\"}
  write_config "$XDG_CONFIG_HOME/dtbus/brokers.yaml" <<EOF
brokers:
  taylordash:
    type: mqtt
    config: {host: 127.0.0.1, port: $BROKER_MAIN_PORT$prefix}
default_broker: taylordash
EOF
}

teardown() { cleanup_all; }

start_processor() {
  bg_start PROC "$DTBUS_PYTHON" "$FIX/processor.py" "$BROKER_MAIN_PORT" 'tracker/events/#' \
    "$ACCEPTED" "$DB_DOWN"
  wait_for_line "$PROC_OUT" '^ready$'
}

produce() { "$DTBUS_PYTHON" "$FIX/producer.py" "$BROKER_MAIN_PORT" "$@"; }

pending_count() { dtbus dlq list -o json | grep -c . || true; }
pending_is() { [[ $(pending_count) == "$1" ]]; }

# Prints FIELD (dotted path) of each JSON line on stdin.
field() {
  "$DTBUS_PYTHON" -c '
import json, sys
for line in sys.stdin:
    if line.strip():
        v = json.loads(line)
        for k in sys.argv[1].split("."):
            v = v[k]
        print(v if isinstance(v, str) else json.dumps(v))' "$1"
}

hex() { od -An -tx1 | tr -d ' \n'; }

# An event as the seed's publish_event writes it (json.dumps spacing), with raw UTF-8, quotes, a
# backslash, a tab and a newline in it: every escape Python's repr() uses shows up in its DLQ body.
odd_event_hex() {
  "$DTBUS_PYTHON" -c '
import json, uuid, datetime
e = {"trace_id": str(uuid.uuid4()), "ts": datetime.datetime.now(datetime.timezone.utc).isoformat(),
     "kind": "caf\u00e9", "idempotency_key": "k1",
     "payload": {"q": "it\u0027s \"x\"\tand\nmore \\ \u65e5\u672c"}}
print(json.dumps(e, ensure_ascii=False).encode().hex())'
}

@test "every TaylorDash dead letter of all three kinds is recovered and accepted by its processor" {
  touch "$DB_DOWN"   # the database is down: the processor dead-letters what it cannot mirror
  start_processor
  run -0 dtbus dlq attach -o json
  assert_output --partial '"filter":"tracker/dlq/#"'

  # bytes: processing errors carry str(message.payload), the repr of the bytes received.
  plain_hex=$(produce event tracker/events/projects project.updated '{"project_id": 7, "name": "a b"}')
  odd_hex=$(odd_event_hex)
  produce raw tracker/events/odd "$odd_hex" >/dev/null
  # json: publish_event's last retry failed, the event dict went to the DLQ.
  failed_event=$(produce publish-failed tracker/events/users user.created '{"id": 1}')
  # text: _send_to_dlq given a str payload (str(payload) is the text itself).
  text='{"trace_id": "0b7c6a4e-3f1d-4c2b-9a8e-5d6f7a8b9c0d", "ts": "2024-05-01T12:00:00Z", "kind": "t", "idempotency_key": "k2"}'
  text_hex=$(produce str-payload tracker/events/text "$text")
  wait_until 20 pending_is 4

  run -0 --separate-stderr dtbus dlq list --no-pull -o json
  kinds=$(printf '%s\n' "$output" | field payload_kind | sort | tr '\n' ' ')
  assert_equal "$kinds" "bytes bytes json text "
  # The body holds the repr; what list says will be sent is the original bytes.
  line=$(printf '%s\n' "$output" | grep '"original_topic":"tracker/events/odd"')
  [[ $line == *'"payload":"b'\''{\"trace_id\": '* ]] || fail "not the repr: $line"
  assert_equal "$(printf '%s\n' "$line" | field republish.payload | head -c -1 | hex)" "$odd_hex"
  run -0 dtbus dlq recover --dry-run
  assert_line --regexp "^would publish [0-9A-Z]{16} to tracker/events/odd \(qos 1, dtbus-replay-count 1, bytes, [0-9]+ bytes\): "
  assert_line --regexp "^would publish [0-9A-Z]{16} to tracker/events/users \(qos 1, dtbus-replay-count 1, json, "
  assert_line --regexp "^would publish [0-9A-Z]{16} to tracker/events/text \(qos 1, dtbus-replay-count 1, text, "

  rm "$DB_DOWN"   # the database is back
  run -0 --separate-stderr dtbus dlq recover -o json
  assert_output '{"dry_run":false,"failed":0,"matched":4,"recovered":4,"skipped":0}'
  wait_for_file_lines "$ACCEPTED" 4 20

  # Byte-identical where the DLQ body kept the bytes (bytes and text)...
  grep -q "\"topic\": \"tracker/events/projects\", \"hex\": \"$plain_hex\"" "$ACCEPTED" || fail "$(cat "$ACCEPTED")"
  grep -q "\"topic\": \"tracker/events/odd\", \"hex\": \"$odd_hex\"" "$ACCEPTED" || fail "$(cat "$ACCEPTED")"
  grep -q "\"topic\": \"tracker/events/text\", \"hex\": \"$text_hex\"" "$ACCEPTED" || fail "$(cat "$ACCEPTED")"
  # ...and the same event where the body kept only the dict (compact JSON now).
  got=$(grep '"topic": "tracker/events/users"' "$ACCEPTED" | field hex)
  run -0 "$DTBUS_PYTHON" -c 'import json, sys; assert json.loads(bytes.fromhex(sys.argv[1])) == json.loads(sys.argv[2]), sys.argv' "$got" "$failed_event"
  # Nothing came back to the DLQ: the processor accepted every one.
  run -0 dtbus dlq list -o json
  assert_output ""
}

@test "a poison message is stopped by --max-replays although the processor drops all properties" {
  start_processor
  run -0 dtbus dlq attach
  bg_start WATCH mosquitto_sub -p "$BROKER_MAIN_PORT" -q 1 -t 'tracker/events/#' -F '%t %x'
  broker_wait_subscribed main 'tracker/events/#' 2
  # Not JSON at all (a processing error: the repr of the bytes), and an event without
  # idempotency_key (a validation error: the dict).
  produce raw tracker/events/bin fffe00206e6f74206a736f6e27 >/dev/null
  invalid='{"trace_id": "0b7c6a4e-3f1d-4c2b-9a8e-5d6f7a8b9c0d", "ts": "2024-05-01T12:00:00Z", "kind": "k"}'
  produce raw tracker/events/inv "$(printf '%s' "$invalid" | hex)" >/dev/null
  wait_until 20 pending_is 2
  first=$(dtbus dlq list --no-pull -o json | field payload | sort)
  [[ $first == *"b\"\\xff\\xfe\\x00 not json'\""* ]] || fail "$first"   # repr chose "

  for round in 1 2; do
    run -0 --separate-stderr dtbus dlq recover --max-replays 2 -o json
    assert_output '{"dry_run":false,"failed":0,"matched":2,"recovered":2,"skipped":0}'
    wait_until 20 pending_is 2   # dead-lettered again, without any dtbus property
    # The same body each round: never wrapped once more (b'b\'...).
    assert_equal "$(dtbus dlq list --no-pull -o json | field payload | sort)" "$first"
  done
  run -0 --separate-stderr dtbus dlq recover --max-replays 2 -o json
  assert_output '{"dry_run":false,"failed":0,"matched":2,"recovered":0,"skipped":2}'
  [[ $stderr == *"replayed 2 time(s) already (same topic and bytes as recovered entry "*"(--max-replays 2)"* ]] ||
    fail "$stderr"
  run -0 dtbus dlq list --no-pull -o json
  assert_equal "${#lines[@]}" 2   # left pending, for a person to look at

  # Each reached the processor exactly three times: the original and two replays (byte-identical
  # for the bytes; for the dict, compact JSON: its spacing was not kept in the DLQ body).
  mosquitto_pub -p "$BROKER_MAIN_PORT" -q 1 -t tracker/events/zz-sentinel -m end
  wait_for_line "$WATCH_OUT" '^tracker/events/zz-sentinel '
  run grep -c '^tracker/events/bin fffe00206e6f74206a736f6e27$' "$WATCH_OUT"
  assert_output 3
  run grep -c '^tracker/events/inv ' "$WATCH_OUT"
  assert_output 3
  compact=$("$DTBUS_PYTHON" -c 'import json, sys; print(json.dumps(json.loads(sys.argv[1]), separators=(",", ":")))' "$invalid")
  run grep -c "^tracker/events/inv $(printf '%s' "$compact" | hex)\$" "$WATCH_OUT"
  assert_output 2
}

@test "a broker with a topic_prefix and a TaylorDash DLQ works with no flags" {
  write_broker_config celine/dt/   # the same broker entry, now with a topic_prefix
  touch "$DB_DOWN"
  start_processor
  run -0 dtbus dlq attach -o json
  assert_output --partial '"filter":"tracker/dlq/#"'   # as TaylorDash publishes it: not prefixed
  event_hex=$(produce event tracker/events/projects project.created '{"n": 1}')
  wait_until 20 pending_is 1
  run -0 dtbus dlq list --no-pull -o json
  assert_output --partial '"original_topic":"tracker/events/projects"'
  rm "$DB_DOWN"
  run -0 --separate-stderr dtbus dlq recover -o json
  assert_output '{"dry_run":false,"failed":0,"matched":1,"recovered":1,"skipped":0}'
  wait_for_file_lines "$ACCEPTED" 1 20
  # Published to the original topic exactly, never celine/dt/tracker/events/...
  run -0 cat "$ACCEPTED"
  assert_output --regexp "^\{\"topic\": \"tracker/events/projects\", \"hex\": \"$event_hex\", "
}
