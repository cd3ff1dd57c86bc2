#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# dtbus dlq against a real mosquitto: attach, spool, list/filters, recover, purge, lock, retained.
# DLQ messages are published with mosquitto_pub (QoS 1) and recovered ones read with mosquitto_sub.

load helpers/common

setup_file() {
  dtbus_isolate_env
  broker_start main
}

teardown_file() { cleanup_all; }

# Every test has its own DLQ topic, durable session and spool (XDG_STATE_HOME is per test).
setup() {
  dtbus_isolate_env
  N=$BATS_TEST_NUMBER
  DLQ=t$N/dlq
  ORIG=t$N/orig
  SPOOL=$XDG_STATE_HOME/dtbus/dlq/main.jsonl
  write_config "$XDG_CONFIG_HOME/dtbus/brokers.yaml" <<EOF
brokers:
  main:
    type: mqtt
    config:
      host: 127.0.0.1
      port: $BROKER_MAIN_PORT
    dlq:
      topic: "$DLQ/#"
      client_id: "dtbus-dlq-test-$N"
default_broker: main
EOF
}

teardown() { cleanup_all; }

# dead_letter ORIGINAL_TOPIC REASON PAYLOAD_JSON [TIMESTAMP] [mosquitto_pub args...]
dead_letter() {
  local topic=$1 reason=$2 payload=$3 ts=${4:-2024-05-01T12:00:00Z}
  shift 4 || shift $#
  mosquitto_pub -p "$BROKER_MAIN_PORT" -q 1 -t "$DLQ/${topic//\//_}" "$@" -m \
    "{\"original_topic\":\"$topic\",\"failure_reason\":\"$reason\",\"failure_timestamp\":\"$ts\",\"payload\":$payload}"
}

# Durable subscriber on the original topics, printing "topic hex-payload user-properties".
start_watcher() {
  bg_start WATCH mosquitto_sub -p "$BROKER_MAIN_PORT" -q 1 -V 5 -t "$ORIG/#" -t "t$N/retry" \
    -F '%t %x %P'
  broker_wait_subscribed main "t$N/retry"
}

# A message through the watcher proves everything published before it has been delivered.
watcher_sync() {
  mosquitto_pub -p "$BROKER_MAIN_PORT" -q 1 -t "$ORIG/zz-sentinel" -m "$1"
  wait_for_line "$WATCH_OUT" "^$ORIG/zz-sentinel $(printf '%s' "$1" | od -An -tx1 | tr -d ' \n')"
}

hex() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }

jq_field() { "$DTBUS_PYTHON" -c 'import json,sys; [print(json.loads(l)[sys.argv[1]]) for l in sys.stdin if l.strip()]' "$1"; }

@test "messages published while no dtbus process runs are listed after attach" {
  run -0 dtbus dlq attach -o json
  assert_output --partial '"session_present":false'
  assert_output --partial "\"client_id\":\"dtbus-dlq-test-$N\""
  run -0 dtbus dlq attach -o json
  assert_output --partial '"session_present":true'

  # Nobody is connected now: the broker queues them for the durable session.
  dead_letter "$ORIG/a" "boom" '{"n":1}'
  dead_letter "$ORIG/b" "bad schema" '"text"'
  dead_letter "$ORIG/c/d" "timeout" '[1,2]'

  run -0 --separate-stderr dtbus dlq list -o json
  assert_equal "${#lines[@]}" 3
  assert_line --index 0 --regexp "^\{\"id\":\"[0-9A-Z]{16}\",\"state\":\"pending\",\"original_topic\":\"$ORIG/a\",\"failure_reason\":\"boom\",\"failure_timestamp\":\"2024-05-01T12:00:00Z\",\"received_at\":\"[0-9T:.Z-]+\",\"payload\":\{\"n\":1\},\"dlq_topic\":\"$DLQ/t${N}_orig_a\",\"payload_kind\":\"json\",\"republish\":\{\"payload\":\"\{\\\\\"n\\\\\":1\}\",\"payload_encoding\":\"utf8\"\}\}$"
  assert_line --index 1 --partial '"payload":"text"'
  assert_line --index 1 --partial '"payload_kind":"text","republish":{"payload":"text","payload_encoding":"utf8"}'
  assert_line --index 2 --partial '"payload":[1,2]'

  # Pulled once: a second list (and attach) finds nothing new and shows no duplicates.
  run -0 dtbus dlq attach
  assert_output --partial "(existing session); 0 new dead letter(s)"
  run -0 dtbus dlq list -o json
  assert_equal "${#lines[@]}" 3
  [[ $(stat -c %a "$SPOOL") == 600 ]]
  [[ $(stat -c %a "${SPOOL%/*}") == 700 ]]
}

@test "list text is a table sized to the terminal" {
  run -0 dtbus dlq attach
  dead_letter "$ORIG/a/very/long/topic/name/that/goes/on/and/on/and/on" "a rather long failure reason that will certainly not fit in a narrow terminal window at all" '{}'
  dead_letter "$ORIG/b" "short" '{}' "$(date -u -d '-3 hours' +%Y-%m-%dT%H:%M:%SZ)"
  COLUMNS=80 run -0 dtbus dlq list
  assert_line --index 0 --regexp '^ID +AGE  ORIGINAL TOPIC +REASON +SENDS$'
  assert_line --index 2 --regexp "^[0-9A-Z]{16}    3h  $ORIG/b +short +json \{\}$"
  for line in "${lines[@]}"; do
    (($(printf '%s' "$line" | wc -m) <= 80)) || fail "wider than 80: $line"
  done
  assert_line --index 1 --partial '…'
  run -0 dtbus dlq list --no-pull --all
  assert_line --index 0 --regexp '^ID +AGE  STATE +ORIGINAL TOPIC'
}

@test "malformed DLQ bodies are spooled and shown, and recover skips them with a report" {
  run -0 dtbus dlq attach
  mosquitto_pub -p "$BROKER_MAIN_PORT" -q 1 -t "$DLQ/x" -m 'not json'
  mosquitto_pub -p "$BROKER_MAIN_PORT" -q 1 -t "$DLQ/y" -m '{"payload":1}'
  run -0 --separate-stderr dtbus dlq list -o json
  assert_equal "${#lines[@]}" 2
  assert_line --index 0 --partial '"original_topic":null,"failure_reason":"malformed DLQ body: not JSON"'
  assert_line --index 0 --partial '"payload":"not json"'
  assert_line --index 1 --partial '"failure_reason":"malformed DLQ body: no original_topic"'
  run -0 --separate-stderr dtbus dlq recover -o json
  assert_output '{"dry_run":false,"failed":0,"matched":2,"recovered":0,"skipped":2}'
  [[ $stderr == *"skipped "*"malformed DLQ body: not JSON"* ]]
  run -0 dtbus dlq list --no-pull -o json
  assert_equal "${#lines[@]}" 2
}

@test "filters select exactly: --topic, --reason, --since/--until, --id" {
  run -0 dtbus dlq attach
  dead_letter "$ORIG/projects/1" "upstream timeout" '1' "2024-05-01T10:00:00Z"
  dead_letter "$ORIG/projects/2" "SchemaError: x" '2' "2024-05-02T10:00:00+02:00"
  dead_letter "$ORIG/users/1" "upstream timeout" '3' "2024-05-03T10:00:00Z"
  dead_letter "$ORIG/users/2" "SchemaError: y" '4' "$(date -u -d '-30 minutes' +%Y-%m-%dT%H:%M:%SZ)"
  run -0 dtbus dlq list -o json
  assert_equal "${#lines[@]}" 4

  payloads() { dtbus dlq list --no-pull -o json "$@" | jq_field payload | tr '\n' ' '; }
  run payloads --topic "$ORIG/projects/#"
  assert_output "1 2 "
  run payloads --topic "$ORIG/+/1"
  assert_output "1 3 "
  run payloads --reason '^Schema'
  assert_output "2 4 "
  run payloads --reason 'time(out)?$' --topic "$ORIG/users/+"
  assert_output "3 "
  run payloads --since 2024-05-02T08:00:00Z --until 2024-05-03T10:00:00Z
  assert_output "2 "
  run payloads --since 2h
  assert_output "4 "
  run payloads --until 1h
  assert_output "1 2 3 "
  id=$(dtbus dlq list --no-pull -o json --topic "$ORIG/users/1" | jq_field id)
  run payloads --id "$id"
  assert_output "3 "

  run -2 --separate-stderr dtbus dlq list --no-pull --reason '(unclosed'
  [[ $stderr == *"--reason '(unclosed': invalid regular expression"* ]]
  run -2 --separate-stderr dtbus dlq list --no-pull --since yesterday
  [[ $stderr == *"--since 'yesterday': expected an RFC 3339 time"* ]]
  run -2 dtbus dlq list --no-pull --topic 'a/#/b'
  run -2 --separate-stderr dtbus dlq recover --no-pull --id NOSUCHID
  [[ $stderr == *"--id NOSUCHID: no such entry"* ]]
}

@test "recover --dry-run shows what would be sent where and publishes nothing" {
  run -0 dtbus dlq attach
  dead_letter "$ORIG/a" "boom" '{"z":1,"a":2}'
  dead_letter "$ORIG/b" "boom" '"plain"'
  start_watcher
  run -0 --separate-stderr dtbus dlq recover --dry-run -o json
  assert_equal "${#lines[@]}" 3
  assert_line --index 0 --regexp "^\{\"id\":\"[0-9A-Z]{16}\",\"payload_kind\":\"json\",\"topic\":\"$ORIG/a\",\"payload\":\{\"z\":1,\"a\":2\},\"payload_encoding\":\"json\",\"qos\":1,\"retain\":false,\"properties\":\{\"user_properties\":\{\"dtbus-recovered-from\":\"$DLQ/t${N}_orig_a\",\"dtbus-replay-count\":\"1\"\}\}\}$"
  assert_line --index 1 --partial "\"topic\":\"$ORIG/b\",\"payload\":\"plain\",\"payload_encoding\":\"utf8\""
  assert_line --index 2 '{"dry_run":true,"failed":0,"matched":2,"recovered":0,"skipped":0}'
  run -0 dtbus dlq recover --dry-run
  assert_line --index 0 --regexp "^would publish [0-9A-Z]{16} to $ORIG/a \(qos 1, dtbus-replay-count 1, json, 13 bytes\): \{\"z\":1,\"a\":2\}$"
  assert_line --index 2 "dry run: would recover 2 of 2 matched dead letter(s) (0 skipped); nothing was published"

  watcher_sync dry-run-done
  run grep -c . "$WATCH_OUT"
  assert_output 1   # only the sentinel
  run -0 dtbus dlq list --no-pull -o json
  assert_equal "${#lines[@]}" 2
}

@test "recover sends each payload unchanged to its original topic, then marks it recovered" {
  run -0 dtbus dlq attach
  obj='{"z":{"y":[1,2.5,true,null]},"a":"é ü 日本","m":-0.125e3}'
  dead_letter "$ORIG/json" "boom" "$obj"
  dead_letter "$ORIG/text" "boom" '"line one\nline two\t\"quoted\""'
  mosquitto_pub -p "$BROKER_MAIN_PORT" -q 1 -t "$DLQ/bin" -m \
    "{\"original_topic\":\"$ORIG/bin\",\"failure_reason\":\"r\",\"payload\":\"AAH/fg==\",\"payload_encoding\":\"base64\"}"
  start_watcher

  run -0 --separate-stderr dtbus dlq recover -o json
  assert_output '{"dry_run":false,"failed":0,"matched":3,"recovered":3,"skipped":0}'
  watcher_sync recover-done
  # nlohmann keeps the key order; numbers are re-serialised (-0.125e3 -> -125.0).
  grep -q "^$ORIG/json $(hex '{"z":{"y":[1,2.5,true,null]},"a":"é ü 日本","m":-125.0}') dtbus-recovered-from:$DLQ/t${N}_orig_json dtbus-replay-count:1\$" "$WATCH_OUT" ||
    fail "json payload not as expected: $(cat "$WATCH_OUT")"
  grep -q "^$ORIG/text $(hex $'line one\nline two\t"quoted"') " "$WATCH_OUT" || fail "text payload: $(cat "$WATCH_OUT")"
  grep -q "^$ORIG/bin 0001ff7e " "$WATCH_OUT" || fail "binary payload: $(cat "$WATCH_OUT")"

  run -0 dtbus dlq list --no-pull -o json
  assert_output ""
  run -0 dtbus dlq list --no-pull --all -o json
  assert_equal "${#lines[@]}" 3
  for line in "${lines[@]}"; do [[ $line == *'"state":"recovered"'* ]] || fail "$line"; done
  # A second recover finds nothing left to send.
  run -0 dtbus dlq recover -o json
  assert_output '{"dry_run":false,"failed":0,"matched":0,"recovered":0,"skipped":0}'
}

@test "a republish the broker refuses stays pending and recover exits 7" {
  local acl=$BATS_TEST_TMPDIR/acl
  printf 'topic deny t%s/orig/blocked/#\ntopic readwrite #\n' "$N" >"$acl"
  broker_start acl --extra "acl_file $acl"
  sed -i "s/port: $BROKER_MAIN_PORT/port: $BROKER_ACL_PORT/" "$XDG_CONFIG_HOME/dtbus/brokers.yaml"
  run -0 dtbus dlq attach
  BROKER_MAIN_PORT=$BROKER_ACL_PORT dead_letter "$ORIG/blocked/x" "boom" '1'
  BROKER_MAIN_PORT=$BROKER_ACL_PORT dead_letter "$ORIG/fine" "boom" '2'
  run -7 --separate-stderr dtbus dlq recover -o json
  assert_output --regexp '^\{"dry_run":false,"failed":1,"failed_out":"'"$PWD"'/dtbus-dlq-failed-[0-9]+\.jsonl","matched":2,"recovered":1,"skipped":0\}$'
  [[ $stderr == *"1 dead letter(s) not acknowledged"* ]]
  # The failed-out file it names holds the refused message, private (0600: payloads are data).
  failed_out=$(printf '%s\n' "$output" | sed -E 's/.*"failed_out":"([^"]+)".*/\1/')
  [[ $(stat -c %a "$failed_out") == 600 ]] || fail "mode $(stat -c %a "$failed_out")"
  run -0 cat "$failed_out"
  assert_output --partial "\"topic\":\"$ORIG/blocked/x\",\"payload\":1"
  run -0 dtbus dlq list --no-pull -o json
  assert_equal "${#lines[@]}" 1
  assert_output --partial "\"original_topic\":\"$ORIG/blocked/x\""
  # The sentence says where too; a run where nothing fails leaves no file behind.
  rm "$failed_out"
  run -7 --separate-stderr dtbus dlq recover
  assert_output --regexp "^recovered 0 of 1 matched dead letter\(s\) \(0 skipped, 1 failed\); the unacknowledged messages are in $PWD/dtbus-dlq-failed-[0-9]+\.jsonl \(their entries stay pending in the spool\)$"
  rm "$PWD"/dtbus-dlq-failed-*.jsonl
  BROKER_MAIN_PORT=$BROKER_ACL_PORT dead_letter "$ORIG/fine2" "boom" '3'
  run -0 dtbus dlq recover --topic "$ORIG/fine2" -o json
  assert_output '{"dry_run":false,"failed":0,"matched":1,"recovered":1,"skipped":0}'
  run ls "$PWD"
  refute_output --partial dtbus-dlq-failed
}

@test "--to-topic sends everything to one retry topic; the loop guard skips over-replayed entries" {
  run -0 dtbus dlq attach
  dead_letter "$ORIG/a" "boom" '{"k":"fresh"}'
  dead_letter "$ORIG/b" "boom" '{"k":"twice","dtbus-replay-count":2}'
  dead_letter "$ORIG/c" "boom" '{"k":"thrice"}' "2024-05-01T00:00:00Z" -V 5 -D publish user-property dtbus-replay-count 3
  start_watcher
  run -0 --separate-stderr dtbus dlq recover --to-topic "t$N/retry" -o json
  assert_output '{"dry_run":false,"failed":0,"matched":3,"recovered":2,"skipped":1}'
  [[ $stderr == *"replayed 3 time(s) already (--max-replays 3)"* ]]
  watcher_sync guard-done
  grep -q "^t$N/retry $(hex '{"k":"fresh"}') dtbus-recovered-from:$DLQ/t${N}_orig_a dtbus-replay-count:1\$" "$WATCH_OUT" ||
    fail "$(cat "$WATCH_OUT")"
  grep -q "^t$N/retry $(hex '{"k":"twice","dtbus-replay-count":2}') .*dtbus-replay-count:3\$" "$WATCH_OUT" ||
    fail "$(cat "$WATCH_OUT")"
  run grep -c "^$ORIG/[abc] " "$WATCH_OUT"
  assert_output 0
  # The skipped one stays pending; a higher limit lets it through.
  run -0 dtbus dlq recover --max-replays 4 --to-topic "t$N/retry" -o json
  assert_output '{"dry_run":false,"failed":0,"matched":1,"recovered":1,"skipped":0}'
}

@test "recover --limit and --rate" {
  run -0 dtbus dlq attach
  for i in 1 2 3 4 5; do dead_letter "$ORIG/$i" "boom" "$i"; done
  run -0 dtbus dlq recover --limit 2 -o json
  assert_output '{"dry_run":false,"failed":0,"matched":2,"recovered":2,"skipped":0}'
  start=$SECONDS
  run -0 dtbus dlq recover --rate 2 -o json
  assert_output '{"dry_run":false,"failed":0,"matched":3,"recovered":3,"skipped":0}'
  ((SECONDS - start >= 1)) || fail "3 messages at 2/s took less than a second"
  run -2 dtbus dlq recover --rate 0
}

@test "purge is guarded by --yes and marks entries purged" {
  run -0 dtbus dlq attach
  dead_letter "$ORIG/a" "old junk" '1'
  dead_letter "$ORIG/b" "keep me" '2'
  run -2 --separate-stderr dtbus dlq purge --reason junk
  [[ $stderr == *"purge deletes dead letters for good; add --yes to confirm"* ]]
  run -0 dtbus dlq list -o json
  assert_equal "${#lines[@]}" 2
  run -0 dtbus dlq purge --reason junk --yes -o json
  assert_output '{"matched":1,"purged":1}'
  run -0 dtbus dlq list --no-pull -o json
  assert_equal "${#lines[@]}" 1
  assert_output --partial '"failure_reason":"keep me"'
  run -0 dtbus dlq list --no-pull --all -o json
  assert_line --index 0 --partial '"state":"purged"'
}

@test "two recovers cannot run at once: the second exits 1 naming the holder's pid" {
  run -0 dtbus dlq attach
  for i in $(seq 1 30); do dead_letter "$ORIG/$i" "boom" "$i"; done
  bg_start FIRST dtbus dlq recover --rate 10 -o json
  wait_until 10 grep -qx "$FIRST" "$SPOOL.lock"
  run -1 --separate-stderr dtbus dlq recover
  [[ $stderr == "dtbus dlq: error: spool $SPOOL is in use by pid $FIRST"* ]] || fail "$stderr"
  run -1 --separate-stderr dtbus dlq purge --yes
  [[ $stderr == *"in use by pid $FIRST"* ]]
  # Reading without a pull needs no lock.
  run -0 dtbus dlq list --no-pull -o json
  run bg_wait FIRST 20
  assert_success
  run cat "$FIRST_OUT"
  assert_output '{"dry_run":false,"failed":0,"matched":30,"recovered":30,"skipped":0}'
}

@test "retained DLQ messages are spooled and cleared at the broker only after recover" {
  # Retained before the session exists: delivered on the first subscription.
  dead_letter "$ORIG/r" "boom" '{"r":1}' "2024-05-01T12:00:00Z" -r
  run -0 dtbus dlq attach
  run -0 dtbus dlq list -o json
  assert_equal "${#lines[@]}" 1
  grep -q '"retained":true' "$SPOOL"
  run -0 mosquitto_sub -p "$BROKER_MAIN_PORT" -t "$DLQ/#" --retained-only -C 1 -W 3
  assert_output --partial '"r":1'   # still at the broker while pending
  run -0 dtbus dlq attach           # re-attaching does not spool it twice
  run -0 dtbus dlq list -o json
  assert_equal "${#lines[@]}" 1

  run -0 dtbus dlq recover -o json
  assert_output --partial '"recovered":1'
  grep -q '"retained_cleared":true' "$SPOOL"
  run mosquitto_sub -p "$BROKER_MAIN_PORT" -t "$DLQ/#" --retained-only -W 1
  assert_output "Timed out"   # nothing retained any more
  # Our own clearing (an empty message on the DLQ topic) is not a dead letter.
  run -0 dtbus dlq list --all -o json
  assert_equal "${#lines[@]}" 1
}

@test "a journal write that fails stops at once without acknowledging: nothing is lost" {
  run -0 dtbus dlq attach
  dead_letter "$ORIG/a" "boom" '{"keep":"me"}'
  [[ $(stat -c %s "$SPOOL") == 0 ]]
  # Any write to a file fails with EFBIG (SIGXFSZ ignored, inherited over exec); the output goes
  # through a pipe, which the limit does not cover.
  run -1 --separate-stderr bash -c "trap '' XFSZ; (ulimit -f 0; exec dtbus dlq list -o json) 2>&1 | cat >&2; exit \${PIPESTATUS[0]}"
  [[ $stderr == *"dtbus dlq: error: spool $SPOOL: cannot write: File too large; stopping without acknowledging"* ]] ||
    fail "$stderr"
  [[ $stderr == *'"keep":"me"'* ]]   # the content is on stderr too
  # The broker still has it and delivers it again.
  run -0 dtbus dlq list -o json
  assert_equal "${#lines[@]}" 1
  assert_output --partial '"payload":{"keep":"me"}'
}

@test "a torn last spool line is reported and ignored; earlier entries survive" {
  run -0 dtbus dlq attach
  dead_letter "$ORIG/a" "boom" '1'
  run -0 dtbus dlq list -o json
  printf '{"id":"01TORN","dlq_topic":"x' >>"$SPOOL"
  run -0 --separate-stderr dtbus dlq list -o json
  assert_equal "${#lines[@]}" 1
  [[ $stderr == *"main.jsonl:2: ignoring a torn last line"* ]] || fail "$stderr"
  run -0 --separate-stderr dtbus dlq list -o json
  [[ $stderr != *torn* ]]   # cut off by the pull that holds the lock
}

@test "without a dlq section the defaults apply, named after the broker (or 'default')" {
  write_config "$XDG_CONFIG_HOME/dtbus/brokers.yaml" <<EOF
brokers:
  plain:
    type: mqtt
    config: {host: 127.0.0.1, port: $BROKER_MAIN_PORT, topic_prefix: "t$N/"}
default_broker: plain
EOF
  run -0 dtbus dlq attach -o json
  assert_output --partial '"client_id":"dtbus-dlq-plain"'
  assert_output --partial '"filter":"tracker/dlq/#"'   # dlq.topic is absolute: never prefixed
  assert_output --partial "\"spool\":\"$XDG_STATE_HOME/dtbus/dlq/plain.jsonl\""
  rm "$XDG_CONFIG_HOME/dtbus/brokers.yaml"
  run -0 dtbus dlq list --no-pull -o json -H 127.0.0.1 -p "$BROKER_MAIN_PORT"
  [[ -z $output ]]
  [[ ! -e $XDG_STATE_HOME/dtbus/dlq/default.jsonl ]]   # --no-pull creates nothing
  run -0 dtbus dlq attach -o json -H 127.0.0.1 -p "$BROKER_MAIN_PORT" --client-id "dtbus-dlq-test-$N-x"
  assert_output --partial "\"spool\":\"$XDG_STATE_HOME/dtbus/dlq/default.jsonl\""
}

@test "a barrier message left in the session by a killed pull is not taken for a dead letter" {
  run -0 dtbus dlq attach
  # What a pull killed between publishing its backlog barrier and reading it back leaves behind:
  # the barrier subscription in the durable session and a barrier message queued for it.
  mosquitto_sub -p "$BROKER_MAIN_PORT" -V 5 -c -x 4294967295 -i "dtbus-dlq-test-$N" -q 1 \
    -t "dtbus/barrier/dtbus-dlq-test-$N" -E
  mosquitto_pub -p "$BROKER_MAIN_PORT" -q 1 -t "dtbus/barrier/dtbus-dlq-test-$N" -m 'stale-nonce'
  dead_letter "$ORIG/a" "boom" '{"n":1}'
  run -0 --separate-stderr dtbus dlq list -o json -vv
  assert_equal "${#lines[@]}" 1
  assert_line --index 0 --partial '"payload":{"n":1}'
  [[ $stderr == *"barrier message left by an earlier, interrupted run"* ]] || fail "$stderr"
  run -0 dtbus dlq list -o json
  assert_equal "${#lines[@]}" 1
}

@test "a removed lock file lets no second process in: dead letters it would pull are not erased" {
  run -0 dtbus dlq attach
  for i in $(seq 1 60); do
    printf '{"original_topic":"%s/%d","failure_reason":"boom","payload":{"i":%d}}\n' "$ORIG" "$i" "$i"
  done | mosquitto_pub -p "$BROKER_MAIN_PORT" -q 1 -t "$DLQ/x" -l
  wait_until 20 bash -c "[[ \$(dtbus dlq list -o json | grep -c .) == 60 ]]"
  # No-op change records, so that the journal is compacted (rewritten) at the end of the recover.
  id=$(dtbus dlq list --no-pull -o json | head -1 | jq_field id)
  for i in $(seq 1 300); do printf '{"id":"%s","state":"pending","at":"2024-05-01T00:00:00.000Z"}\n' "$id"; done >>"$SPOOL"

  bg_start FIRST dtbus dlq recover --rate 5 -o json   # 12 s of publishing: room for the rest
  wait_until 20 grep -q '"state":"recovered"' "$SPOOL"   # past its pull, publishing
  rm "$SPOOL.lock"   # a careless cleanup while it runs
  dead_letter "$ORIG/new/1" "late" '{"late":1}'
  dead_letter "$ORIG/new/2" "late" '{"late":2}'
  dead_letter "$ORIG/new/3" "late" '{"late":3}'
  # A second process finds the journal itself locked: it pulls nothing (the broker keeps them).
  run --separate-stderr dtbus dlq list -o json
  second_status=$status second_stderr=$stderr
  run bg_wait FIRST 30
  assert_success
  run cat "$FIRST_OUT"
  assert_output '{"dry_run":false,"failed":0,"matched":60,"recovered":60,"skipped":0}'
  # After the first one's rewrite, the three late dead letters are all there.
  run -0 dtbus dlq list -o json
  assert_equal "${#lines[@]}" 3
  assert_output --partial '"payload":{"late":3}'
  run -0 dtbus dlq list --no-pull --all -o json
  assert_equal "${#lines[@]}" 63
  ((second_status == 1)) || fail "the second process exited $second_status"
  [[ $second_stderr == *"spool $SPOOL is in use by another process (its lock file $SPOOL.lock was removed or replaced"* ]] ||
    fail "$second_stderr"
}
