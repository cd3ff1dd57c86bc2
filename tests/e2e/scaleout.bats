#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Scale-out (README "Scale-out"): `sub --share` workers on mosquitto split a QoS 1 stream with
# nothing lost, also when a worker is stopped in the middle of the stream and comes back on its
# durable session. (tests/e2e/sub.bats has the plain two-worker split.)
# bats file_tags=scaleout,broker

load helpers/common

setup_file() {
  dtbus_isolate_env
  broker_start main
}

teardown_file() { cleanup_all; }

setup() {
  dtbus_isolate_env
  T=scale$BATS_TEST_NUMBER
  FILTER="\$share/g/$T/jobs"
}

teardown() { cleanup_all; }

# worker VAR SESSION — a shared-subscription worker printing one payload per line, subscribed
# before returning.
worker() {
  local before
  before=$(grep -cF -- " 1 $FILTER" "$BROKER_MAIN_LOG") || true
  bg_start "$1" dtbus sub -H 127.0.0.1 -p "$BROKER_MAIN_PORT" -t "$T/jobs" --share g -q 1 \
    ${2:+--session "$2"} -F '{payload}'
  broker_wait_subscribed main "$FILTER" $((before + 1))
}

# publish N [RATE] — payloads 1..N at QoS 1 (every one acknowledged, or exit != 0).
publish() {
  seq 1 "$1" | dtbus pub -H 127.0.0.1 -p "$BROKER_MAIN_PORT" -t "$T/jobs" -l -q 1 ${2:+--rate "$2"}
}

# covered N FILE... — every payload 1..N appears in the FILEs; with --report, say what is missing
# and how many came twice (QoS 1 is at least once: duplicates are allowed, gaps are not).
covered() {
  "$DTBUS_PYTHON" - "$@" <<'PY'
import collections, sys
args = sys.argv[1:]
report = args[0] == "--report"
if report:
    args = args[1:]
n, files = int(args[0]), args[1:]
seen = collections.Counter()
for name in files:
    with open(name) as f:
        seen.update(line.strip() for line in f if line.strip())
missing = [i for i in range(1, n + 1) if str(i) not in seen]
if report:
    dups = sum(c - 1 for c in seen.values() if c > 1)
    print("missing %d of %d %s; %d duplicate(s)" % (len(missing), n, missing[:20], dups), file=sys.stderr)
sys.exit(1 if missing else 0)
PY
}

@test "three --share workers: each gets a share of a QoS 1 stream, together exactly the published set" {
  worker A
  worker B
  worker C
  run -0 publish 3000
  wait_until 20 covered 3000 "$A_OUT" "$B_OUT" "$C_OUT" || covered --report 3000 "$A_OUT" "$B_OUT" "$C_OUT"
  bg_stop A
  bg_stop B
  bg_stop C
  local a b c
  a=$(wc -l <"$A_OUT") b=$(wc -l <"$B_OUT") c=$(wc -l <"$C_OUT")
  echo "split: $a / $b / $c" >&3
  ((a > 0 && b > 0 && c > 0))
  # No reconnect happened, so no message was delivered twice either.
  ((a + b + c == 3000))
}

@test "a --share worker stopped (SIGTERM) mid-stream and restarted on its --session: nothing lost" {
  worker A "w-a-$T"
  worker B "w-b-$T"
  bg_start P publish 6000 3000
  wait_for_file_lines "$A_OUT" 500 20
  bg_stop A TERM
  bg_wait A 10 # SIGTERM ends sub with 0, after writing what it had acknowledged
  local first=$BATS_TEST_TMPDIR/a-first-run
  cp "$A_OUT" "$first"
  worker A "w-a-$T" # back on its session: the broker delivers what it kept for it
  bg_wait P 60
  wait_until 20 covered 6000 "$first" "$A_OUT" "$B_OUT" ||
    covered --report 6000 "$first" "$A_OUT" "$B_OUT"
  bg_stop A
  bg_stop B
  (($(cat "$first" "$A_OUT" | wc -l) > 500 && $(wc -l <"$B_OUT") > 0))
}

@test "a worker stopping at -W in the middle of a stream prints every message it acknowledged" {
  local session=w-$T first=$BATS_TEST_TMPDIR/first rest=$BATS_TEST_TMPDIR/rest i rc
  run -6 dtbus sub -H 127.0.0.1 -p "$BROKER_MAIN_PORT" -t "$T/jobs" -q 1 --session "$session" -W 0.2
  bg_start P publish 40000 10000
  rc=0
  dtbus sub -H 127.0.0.1 -p "$BROKER_MAIN_PORT" -t "$T/jobs" -q 1 --session "$session" -W 1 \
    -F '{payload}' >"$first" || rc=$?
  ((rc == 0))
  (($(wc -l <"$first") > 0))
  bg_wait P 60
  # The rest waits in the session; whatever the first run acknowledged must be in $first.
  for ((i = 0; i < 20; i++)); do
    covered 40000 "$first" "$rest" 2>/dev/null && break
    dtbus sub -H 127.0.0.1 -p "$BROKER_MAIN_PORT" -t "$T/jobs" -q 1 --session "$session" -W 1 \
      -F '{payload}' >>"$rest" || true
  done
  covered --report 40000 "$first" "$rest"
}
