#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Fault injection: the DLQ spool cannot be written — its directory cannot be created, the disk
# fills mid-pull or mid-recover, the filesystem is read-only. dtbus dlq stops with one error line
# naming the spool and exit 1 (SPEC §2: runtime error), and nothing is lost: a dead letter not
# journaled is not acknowledged (the broker keeps it for the durable session), an entry published
# but not marked recovered stays pending (published again by the next recover).
#
# We run as root in CI, where file modes do not stop writes (chmod 0500 means nothing to root).
# The techniques used instead: a spool whose parent "directory" is a regular file (ENOTDIR, for
# any user); a file size limit (`ulimit -f`, with SIGXFSZ ignored so write() fails with EFBIG
# instead of killing the process) standing for a full disk; and, where `mount` is permitted, a
# real tmpfs that is full (ENOSPC) or remounted read-only (EROFS) — skipped elsewhere.

load helpers/common
load faults_common

setup_file() {
  dtbus_isolate_env
  broker_start main
}

teardown_file() { cleanup_all; }

setup() {
  dtbus_isolate_env
  T=fsp$BATS_TEST_NUMBER
  faults_config
  SPOOL=$XDG_STATE_HOME/dtbus/dlq/main.jsonl
}

teardown() {
  local rc=0
  cleanup_all || rc=$?
  if [[ -n ${MNT:-} ]] && mountpoint -q "$MNT"; then umount "$MNT" || rc=1; fi
  return "$rc"
}

# dead_letters N [FROM=1]: DLQ bodies for payloads {"i":FROM}..{"i":FROM+N-1} on $T/dlq/x;
# payloads.txt gets them appended.
dead_letters() {
  "$DTBUS_PYTHON" -c '
import sys
n, t, first = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
with open("payloads.txt", "a") as payloads:
    for i in range(first, first + n):
        print("{\"original_topic\":\"%s/orig/%d\",\"failure_reason\":\"boom\",\"payload\":{\"i\":%d}}" % (t, i % 5, i))
        payloads.write("{\"i\":%d}\n" % i)
' "$1" "$T" "${2:-1}" | mosquitto_pub -p "$BROKER_MAIN_PORT" -q 1 -t "$T/dlq/x" -l
}

# spooled_payloads — the payload of each spool entry, one per line (no pull).
spooled_payloads() {
  dtbus dlq list --no-pull --all -o json | "$DTBUS_PYTHON" -c '
import json, sys
for l in sys.stdin:
    print(json.dumps(json.loads(l)["payload"], separators=(",", ":")))'
}

# limited KB CMD... — CMD with files limited to KB kilobytes, SIGXFSZ ignored (write() fails
# with EFBIG); its stdout goes through a pipe, which the limit does not cover.
limited() {
  local kb=$1
  shift
  bash -c 'trap "" XFSZ; ulimit -f "$0"; exec "$@"' "$kb" "$@" | cat
  return "${PIPESTATUS[0]}"
}

# A durable watcher on the original topics.
watch() {
  bg_start WATCH mosquitto_sub -p "$BROKER_MAIN_PORT" -q 1 -c -i "$T-watch" -t "$T/orig/#"
  broker_wait_subscribed main "$T/orig/#"
}

# mount_tmpfs SIZE — a tmpfs of SIZE at $MNT. The tests run as root (CI and scripts/test install
# as root): a mount that fails is a failure of the test set-up, never a reason to skip.
mount_tmpfs() {
  MNT=$BATS_TEST_TMPDIR/mnt
  mkdir -p "$MNT"
  mount -t tmpfs -o "size=$1,mode=0700" tmpfs "$MNT" ||
    fail "cannot mount a tmpfs at $MNT (the full-filesystem tests need root with CAP_SYS_ADMIN)"
}

@test "spool directory cannot be created (its parent is a regular file): exit 1, one line; the broker keeps every dead letter" {
  run -0 dtbus dlq attach
  dead_letters 50
  local good=$SPOOL
  echo "not a directory" >"$BATS_TEST_TMPDIR/blocker"
  sed -i "s|client_id: \"dtbus-dlq-$T\"|&\n      spool: \"$BATS_TEST_TMPDIR/blocker/dlq/main.jsonl\"|" \
    "$XDG_CONFIG_HOME/dtbus/brokers.yaml"
  for cmd in list recover attach; do
    run --separate-stderr dtbus dlq "$cmd"
    assert_equal "$status" 1
    assert_equal "$output" ""
    [[ $(grep -c . <<<"$stderr") == 1 ]] || fail "$stderr"
    [[ $stderr == "dtbus dlq: error: spool $BATS_TEST_TMPDIR/blocker/dlq"*"Not a directory"* ]] || fail "$stderr"
  done
  # Back to a writable spool: the broker still had all of them.
  sed -i "/blocker/d" "$XDG_CONFIG_HOME/dtbus/brokers.yaml"
  run -0 dtbus dlq list -o json
  assert_equal "${#lines[@]}" 50
  spooled_payloads >spooled.txt
  account payloads.txt --got spooled.txt --label "dlq list, spool directory not creatable"
  [[ -f $good ]]
}

@test "disk full mid-pull (file size limit): exit 1 with one line; a rerun with room spools every dead letter" {
  run -0 dtbus dlq attach
  dead_letters 300
  run limited 8 dtbus dlq list -o json
  assert_equal "$status" 1
  [[ ${lines[0]} == "dtbus dlq: error: spool $SPOOL: cannot write: File too large; stopping without acknowledging the message (the broker keeps it): "* ]] ||
    fail "$output"
  assert_equal "${#lines[@]}" 1 # nothing listed: it stopped before
  local before
  before=$(spooled_payloads | sort -u | wc -l)
  ((before > 0 && before < 300)) || fail "$before entries spooled before the disk was full"
  run -0 --separate-stderr dtbus dlq list -o json
  [[ $stderr == *"ignoring a torn last line"* || $stderr == "" ]] || fail "$stderr"
  spooled_payloads >spooled.txt
  account payloads.txt --got spooled.txt --label "dlq list, disk full after $before entries, then a rerun"
}

@test "journal write fails mid-recover (file size limit): exit 1 naming the cause; a rerun recovers the rest, each delivered" {
  run -0 dtbus dlq attach
  dead_letters 300
  run -0 dtbus dlq list -o json
  watch
  local size
  size=$(stat -c %s "$SPOOL")
  # Room for a few change records only.
  run limited $(((size + 3072) / 1024)) dtbus dlq recover --rate 500 -o json
  assert_equal "$status" 1
  [[ $output == *"dtbus dlq: error: spool $SPOOL: cannot write: File too large (entries published but not marked recovered stay pending and are published again next time)"* ]] ||
    fail "$output"
  run -0 --separate-stderr bash -c "dtbus dlq list --no-pull -o json | wc -l"
  ((output > 0 && output < 300)) || fail "$output pending"
  [[ $stderr == *"ignoring a torn last line"* || -z $stderr ]] || fail "$stderr"
  run -0 dtbus dlq recover -o json
  run -0 dtbus dlq list -o json
  assert_output ""
  wait_until 20 all_delivered payloads.txt "$WATCH_OUT"
  bg_stop WATCH
  account payloads.txt --got "$WATCH_OUT" --label "dlq recover, journal full mid-recover, then a rerun"
}

@test "spool on a tmpfs that is full (ENOSPC) mid-pull: exit 1; with room again every dead letter is spooled" {
  mount_tmpfs 12k
  export XDG_STATE_HOME=$MNT/state
  SPOOL=$XDG_STATE_HOME/dtbus/dlq/main.jsonl
  run -0 dtbus dlq attach
  dead_letters 300
  run --separate-stderr dtbus dlq list -o json
  assert_equal "$status" 1
  [[ $stderr == "dtbus dlq: error: spool $SPOOL: cannot write: No space left on device; stopping without acknowledging"* ]] ||
    fail "$stderr"
  mount -o remount,size=4m "$MNT"
  run -0 --separate-stderr dtbus dlq list -o json
  spooled_payloads >spooled.txt
  account payloads.txt --got spooled.txt --label "dlq list, tmpfs full, then room again"
}

@test "spool on a read-only filesystem: recover exits 1 before publishing, list --no-pull still reads it; nothing lost" {
  mount_tmpfs 4m
  export XDG_STATE_HOME=$MNT/state
  SPOOL=$XDG_STATE_HOME/dtbus/dlq/main.jsonl
  run -0 dtbus dlq attach
  dead_letters 40
  run -0 dtbus dlq list -o json
  watch
  dead_letters 60 41 # 60 more at the broker, pulled once the spool is writable again
  mount -o remount,ro "$MNT"
  run --separate-stderr dtbus dlq recover -o json
  assert_equal "$status" 1
  [[ $(grep -c . <<<"$stderr") == 1 && $stderr == "dtbus dlq: error: "*"$MNT"*"Read-only file system"* ]] ||
    fail "$stderr"
  run -0 bash -c "dtbus dlq list --no-pull -o json | wc -l"
  assert_output 40
  mosquitto_pub -p "$BROKER_MAIN_PORT" -q 1 -t "$T/orig/sync" -m sync
  wait_for_line "$WATCH_OUT" "^sync$"
  [[ $(grep -vc '^sync$' "$WATCH_OUT") == 0 ]] || fail "published while read-only: $(cat "$WATCH_OUT")"
  mount -o remount,rw "$MNT"
  run -0 dtbus dlq recover -o json
  assert_output '{"dry_run":false,"failed":0,"matched":100,"recovered":100,"skipped":0}'
  wait_until 20 all_delivered payloads.txt "$WATCH_OUT"
  bg_stop WATCH
  account payloads.txt --got "$WATCH_OUT" --label "dlq recover, spool read-only, then writable"
}
