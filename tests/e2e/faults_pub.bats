#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Fault injection for dtbus pub: a message larger than the broker's max_packet_size (MQTT 5, where
# the CONNACK announces the limit, and 3.1.1, where the broker just drops the connection), a
# --failed-out file that cannot be created or fills the disk (a small tmpfs), --timeout with input
# not read yet (a broker frozen with SIGSTOP) and the documented resume recipe. Each test states
# what happened to every input line: acknowledged (seen by a subscriber) or in --failed-out.

load helpers/common
load faults_common

# The limit of broker `small` (mosquitto max_packet_size: the whole packet, in bytes).
SMALL_LIMIT=4096

setup_file() {
  dtbus_isolate_env
  broker_start main
  broker_start small --extra "max_packet_size $SMALL_LIMIT"
}

teardown_file() { cleanup_all; }

setup() {
  dtbus_isolate_env
  T=fpub$BATS_TEST_NUMBER
  write_config "$XDG_CONFIG_HOME/dtbus/brokers.yaml" <<EOF
brokers:
  main:
    type: mqtt
    config:
      host: 127.0.0.1
      port: $BROKER_MAIN_PORT
      reconnect_interval: 0.2
  small:
    type: mqtt
    config:
      host: 127.0.0.1
      port: $BROKER_SMALL_PORT
      reconnect_interval: 0.2
default_broker: main
EOF
}

teardown() {
  local rc=0
  [[ -n ${PAUSED:-} ]] && broker_resume main
  cleanup_all || rc=$?
  if [[ -n ${MNT:-} ]] && mountpoint -q "$MNT"; then umount "$MNT" || rc=1; fi
  return "$rc"
}

# lines_with_big N AT SIZE FILE — N lines "$T-i", line AT replaced by SIZE bytes of 'x'.
lines_with_big() {
  "$DTBUS_PYTHON" - "$@" "$T" <<'PY'
import sys
n, at, size, path, t = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
with open(path, "w") as f:
    for i in range(1, n + 1):
        f.write(("x" * size if i == at else "%s-%d" % (t, i)) + "\n")
PY
}

# payloads FILE — the payload of each --failed-out record, one per line.
payloads() {
  "$DTBUS_PYTHON" -c '
import json, sys
for l in open(sys.argv[1]):
    print(json.loads(l)["payload"])' "$1"
}

# valid_jsonl FILE — every line is a complete JSON object with a payload (no cut-off record).
valid_jsonl() {
  "$DTBUS_PYTHON" -c '
import json, sys
data = open(sys.argv[1], "rb").read()
assert data == b"" or data.endswith(b"\n"), "last record cut off: %r" % data[-80:]
for n, l in enumerate(data.splitlines(), 1):
    r = json.loads(l)
    assert "payload" in r and "error" in r, (n, r)' "$1"
}

# mount_tmpfs SIZE — a tmpfs of SIZE at $MNT (the tests run as root; see faults_spool.bats).
mount_tmpfs() {
  MNT=$BATS_TEST_TMPDIR/mnt
  mkdir -p "$MNT"
  mount -t tmpfs -o "size=$1,mode=0700" tmpfs "$MNT" ||
    fail "cannot mount a tmpfs at $MNT (the full-filesystem tests need root with CAP_SYS_ADMIN)"
}

# sub_small VAR COUNT TOPIC [QOS] — mosquitto_sub on broker small for COUNT messages.
sub_small() {
  bg_start "$1" mosquitto_sub -p "$BROKER_SMALL_PORT" -t "$3" -q "${4:-1}" -C "$2" -W 60
  broker_wait_subscribed small "$3"
}

@test "a message over the broker's maximum packet size (MQTT 5, QoS 1): named by line, saved, every other line acknowledged, exit 7" {
  lines_with_big 2000 1000 10000 in.txt
  sub_small S 1999 "$T/o"
  run --separate-stderr dtbus pub -b small -t "$T/o" -l -q 1 --failed-out failed.jsonl -o json <in.txt
  assert_equal "$status" 7
  [[ $stderr == *"stdin line 1000"*"too large"* ]] || fail "$stderr"
  [[ $(json_value <(echo "$output") published) == 1999 && $(json_value <(echo "$output") acknowledged) == 1999 ]] ||
    fail "$output"
  [[ $(json_value <(echo "$output") failed) == 1 ]] || fail "$output"
  run -0 bg_wait S 30
  [[ $(wc -l <"$S_OUT") == 1999 ]]
  assert_equal "$(payloads failed.jsonl)" "$(sed -n 1000p in.txt)"
  assert_equal "$(stat -c %a failed.jsonl)" 600
  account in.txt --got "$S_OUT" --saved failed.jsonl --label "pub -l -q 1, line 1000 over max_packet_size"
  # ready to re-pipe: the record is the message (it is still too large for this broker)
  run -0 bash -c "dtbus pub --jsonl < failed.jsonl"
}

@test "a message over the maximum packet size at QoS 0: the error names the line, later lines still go out" {
  lines_with_big 200 100 10000 in.txt
  sub_small S 199 "$T/o" 0
  run --separate-stderr dtbus pub -b small -t "$T/o" -l -q 0 --failed-out failed.jsonl <in.txt
  assert_equal "$status" 7
  [[ $stderr == *"stdin line 100"*"too large"* ]] || fail "$stderr"
  run -0 bg_wait S 30
  assert_equal "$(tail -1 "$S_OUT")" "$T-200"
  assert_equal "$(payloads failed.jsonl)" "$(sed -n 100p in.txt)"
  account in.txt --got "$S_OUT" --saved failed.jsonl --label "pub -l -q 0, line 100 over max_packet_size"
}

@test "a message over the maximum packet size with --on-invalid skip: reported by line and skipped, exit 0" {
  lines_with_big 50 7 10000 in.txt
  sub_small S 49 "$T/o"
  run --separate-stderr dtbus pub -b small -t "$T/o" -l -q 1 --on-invalid skip --failed-out failed.jsonl -o json <in.txt
  assert_equal "$status" 0
  [[ $stderr == *"stdin line 7"*"too large"*"skipped"* ]] || fail "$stderr"
  [[ $(json_value <(echo "$output") skipped) == 1 && $(json_value <(echo "$output") acknowledged) == 49 ]] || fail "$output"
  run -0 bg_wait S 30
  [[ ! -e failed.jsonl ]]
}

@test "a message over the maximum packet size with -V 311 (the broker drops the connection): reconnects, saves it, the rest acknowledged, exit 7" {
  lines_with_big 300 150 10000 in.txt
  # No -C: the messages pending when the connection is made again are sent again (at least once).
  bg_start S mosquitto_sub -p "$BROKER_SMALL_PORT" -t "$T/o" -q 1
  broker_wait_subscribed small "$T/o"
  run --separate-stderr run_with_timeout 60 dtbus-pub -V 311 -b small -t "$T/o" -l -q 1 --failed-out failed.jsonl <in.txt
  assert_equal "$status" 7
  [[ $stderr == *"stdin line 150"* ]] || fail "$stderr"
  sed 150d in.txt >expected.txt
  wait_until 30 all_delivered expected.txt "$S_OUT"
  bg_stop S
  assert_equal "$(payloads failed.jsonl)" "$(sed -n 150p in.txt)"
  account in.txt --got "$S_OUT" --saved failed.jsonl --label "pub -V 311, line 150 over max_packet_size"
}

@test "--failed-out that cannot be created: exit 1 before anything is published" {
  echo "a file, not a directory" >blocker
  bg_start S mosquitto_sub -p "$BROKER_MAIN_PORT" -t "$T/o" -q 1 -v
  broker_wait_subscribed main "$T/o"
  run --separate-stderr dtbus pub -t "$T/o" -l -q 1 --failed-out blocker/failed.jsonl < <(printf 'one\ntwo\n')
  assert_equal "$status" 1
  [[ $stderr == "dtbus pub: error: "*"blocker/failed.jsonl"*"Not a directory"* ]] || fail "$stderr"
  assert_equal "$(grep -c . <<<"$stderr")" 1
  run -0 dtbus pub -t "$T/o" -m end -q 1
  wait_for_line "$S_OUT" "^$T/o end$"
  assert_equal "$(cat "$S_OUT")" "$T/o end"
}

@test "--failed-out on a full disk: whole records only, one error line, an honest count, never exit 0 or 7" {
  mount_tmpfs 64k
  # Fill it, then free 6 KB: room for a few dozen records of the 300 to save. (A window above 300
  # puts all 300 in flight before the broker freezes.)
  dd if=/dev/zero of="$MNT/fill" bs=1k 2>/dev/null || true
  truncate -s -6k "$MNT/fill"
  seq -f "$T-%g-padding-padding-padding-padding-padding-padding" 1 300 >in.txt
  bg_start PUB bash -c "(until [ -e go ]; do sleep 0.05; done; cat in.txt) | exec dtbus pub -i $T-pub -t $T/o -l -q 1 --window 1024 --timeout 1 --failed-out $MNT/failed.jsonl -o json"
  wait_for_line "$BROKER_MAIN_LOG" "$T-pub"
  broker_pause main
  PAUSED=1
  touch go
  local rc=0
  bg_wait PUB 30 || rc=$?
  broker_resume main
  PAUSED=
  [[ $rc != 0 && $rc != 7 ]] || fail "exit $rc: $(cat "$PUB_ERR")"
  valid_jsonl "$MNT/failed.jsonl"
  assert_equal "$(stat -c %a "$MNT/failed.jsonl")" 600
  local saved
  saved=$(wc -l <"$MNT/failed.jsonl")
  ((saved > 0 && saved < 300)) || fail "$saved records saved"
  # One line for the write failure, one for the outcome; no "saved to" for what was not saved.
  run cat "$PUB_ERR"
  assert_equal "${#lines[@]}" 2
  assert_line --index 0 --partial "No space left on device"
  assert_line --index 1 --partial "$saved saved to $MNT/failed.jsonl"
  assert_line --index 1 --partial "$((300 - saved)) could not be saved"
  [[ $(json_value "$PUB_OUT" failed) == 300 && $(json_value "$PUB_OUT" published) == 300 ]] || fail "$(cat "$PUB_OUT")"
}

@test "--timeout with input not read yet: names the stdin line to resume from; tail -n +N into a live broker leaves no line lost or doubled" {
  seq -f "$T-%g" 1 200000 >in.txt
  bg_start S mosquitto_sub -p "$BROKER_MAIN_PORT" -t "$T/o" -q 1 -c -i "$T-watch"
  broker_wait_subscribed main "$T/o"
  bg_start PUB bash -c "(until [ -e go ]; do sleep 0.05; done; cat in.txt) | exec dtbus pub -i $T-pub -t $T/o -l -q 1 --timeout 1 --failed-out failed.jsonl"
  wait_for_line "$BROKER_MAIN_LOG" "$T-pub"
  broker_pause main
  PAUSED=1
  touch go
  run bg_wait PUB 30
  broker_resume main
  PAUSED=
  assert_equal "$status" 7
  run cat "$PUB_ERR"
  assert_equal "${#lines[@]}" 1
  [[ $output =~ stdin\ line\ ([0-9]+)\ is\ acknowledged\ or\ saved.*tail\ -n\ \+([0-9]+) ]] || fail "$output"
  local upto=${BASH_REMATCH[1]} from=${BASH_REMATCH[2]}
  assert_equal "$from" "$((upto + 1))"
  ((upto > 0 && upto < 200000)) || fail "upto $upto"
  # Every line up to N is in failed-out (nothing was acknowledged: the broker was frozen).
  head -n "$upto" in.txt >upto.txt
  account upto.txt --saved failed.jsonl --label "frozen broker, --timeout, lines 1..$upto"
  # The recipe: the rest of the input into a live broker.
  run -0 bash -c "tail -n +$from in.txt | dtbus pub -t $T/o -l -q 1 --failed-out failed2.jsonl"
  [[ ! -e failed2.jsonl ]]
  tail -n +"$from" in.txt >rest.txt
  wait_until 60 all_delivered rest.txt "$S_OUT"
  bg_stop S
  "$DTBUS_PYTHON" - in.txt "$S_OUT" failed.jsonl "$upto" <<'PY'
import collections, json, sys
lines = open(sys.argv[1]).read().split()
got = collections.Counter(open(sys.argv[2]).read().split())
saved = {json.loads(l)["payload"] for l in open(sys.argv[3])}
upto = int(sys.argv[4])
bad = [l for i, l in enumerate(lines, 1)
       if not (got[l] == 1 or (i <= upto and l in saved and got[l] <= 1))]
assert not bad, "%d lines lost or doubled: %s" % (len(bad), bad[:10])
PY
}
