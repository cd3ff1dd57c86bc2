# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# Shared by the fault-injection suites (faults_*.bats), after `load helpers/common`: the broker
# config and the bookkeeping that states, for every fault, what was lost.
#
# The accounting: an INPUT file holds one expected payload per line; "got" files are what
# subscribers printed (one payload per line, as `-F '{payload}'` or mosquitto_sub print it) and
# "saved" files are --failed-out files (JSON Lines records, their "payload"). A payload counts as
# lost when it is in INPUT and in none of them. Duplicates (QoS 1 is at least once) are counted
# and reported, never an error.

# faults_config — brokers.yaml with broker `main` (reconnect base 0.2 s) and a DLQ on
# $T/dlq/# in the durable session dtbus-dlq-$T; needs T and BROKER_MAIN_PORT.
faults_config() {
  write_config "$XDG_CONFIG_HOME/dtbus/brokers.yaml" <<EOF
brokers:
  main:
    type: mqtt
    config:
      host: 127.0.0.1
      port: $BROKER_MAIN_PORT
      reconnect_interval: 0.2
    dlq:
      topic: "$T/dlq/#"
      client_id: "dtbus-dlq-$T"
default_broker: main
EOF
}

# account INPUT [--got FILE]... [--saved FILE]... [--upto N] [--label TEXT] — prints one line
# "LABEL: N input, D delivered (X duplicate deliveries), S saved, L lost" (to fd 3 as well when
# bats has it), and the first lost payloads; exit 1 when any is lost. --upto N: only the first N
# input lines must be accounted for (the rest were never read).
account() {
  local line
  line=$("$DTBUS_PYTHON" - "$@" <<'PY'
import json, sys
args = sys.argv[1:]
inp, got, saved, upto, label = args[0], [], [], None, "accounting"
i = 1
while i < len(args):
    flag, value = args[i], args[i + 1]
    if flag == "--got": got.append(value)
    elif flag == "--saved": saved.append(value)
    elif flag == "--upto": upto = int(value)
    elif flag == "--label": label = value
    else: sys.exit("account: unknown option " + flag)
    i += 2
expected = [l.rstrip("\n") for l in open(inp, encoding="utf-8", errors="replace") if l.strip()]
if upto is not None:
    expected = expected[:upto]
delivered, deliveries = set(), 0
for f in got:
    for l in open(f, encoding="utf-8", errors="replace"):
        l = l.rstrip("\n")
        if l:
            delivered.add(l)
            deliveries += 1
kept = set()
for f in saved:
    try:
        lines = open(f, encoding="utf-8").read().splitlines()
    except FileNotFoundError:
        continue
    for l in lines:
        if l.strip():
            p = json.loads(l)["payload"]
            kept.add(p if isinstance(p, str) else json.dumps(p, separators=(",", ":")))
want = set(expected)
lost = [p for p in expected if p not in delivered and p not in kept]
print("%s: %d input, %d delivered (%d duplicate deliveries), %d saved, %d lost%s" % (
    label, len(want), len(want & delivered), max(0, deliveries - len(delivered)),
    len(want & kept), len(lost), (": " + " ".join(lost[:10])) if lost else ""))
sys.exit(1 if lost else 0)
PY
  )
  local rc=$?
  printf '%s\n' "$line"
  { printf '# %s\n' "$line" >&3; } 2>/dev/null || true
  return "$rc"
}

# all_delivered INPUT FILE... — true when every line of INPUT is a line of one of the FILEs
# (for wait_until; quiet).
all_delivered() {
  local input=$1
  shift
  "$DTBUS_PYTHON" - "$input" "$@" <<'PY'
import sys
want = {l.rstrip("\n") for l in open(sys.argv[1]) if l.strip()}
for f in sys.argv[2:]:
    try:
        want -= {l.rstrip("\n") for l in open(f, errors="replace")}
    except FileNotFoundError:
        pass
sys.exit(1 if want else 0)
PY
}

# lines_matching FILE REGEX — how many lines of FILE match the extended REGEX (0 when missing).
lines_matching() {
  local n
  n=$(grep -cE -- "$2" "$1" 2>/dev/null) || true
  printf '%s\n' "${n:-0}"
}

# at_least N CMD... — true when CMD prints a number >= N (for wait_until).
at_least() {
  local want=$1 have
  shift
  have=$("$@")
  ((have >= want))
}

# json_value FILE KEY — KEY of the last JSON object line in FILE (a summary), or "" when none.
json_value() {
  "$DTBUS_PYTHON" - "$1" "$2" <<'PY'
import json, sys
value = ""
for line in open(sys.argv[1]):
    line = line.strip()
    if line.startswith("{"):
        try:
            value = json.loads(line).get(sys.argv[2], "")
        except ValueError:
            pass
print(json.dumps(value) if not isinstance(value, (str, int)) else value)
PY
}

# not_saved INPUT FAILED_OUT — the lines of INPUT whose payload is not in the --failed-out file.
not_saved() {
  "$DTBUS_PYTHON" - "$1" "$2" <<'PY'
import json, sys
kept = set()
try:
    for l in open(sys.argv[2]):
        if l.strip():
            p = json.loads(l)["payload"]
            kept.add(p if isinstance(p, str) else json.dumps(p, separators=(",", ":")))
except FileNotFoundError:
    pass
for l in open(sys.argv[1]):
    if l.strip() and l.rstrip("\n") not in kept:
        sys.stdout.write(l)
PY
}

# spool_on_tmpfs — moves XDG_STATE_HOME (the DLQ spool) to /dev/shm when it is there: the spool
# fsyncs every entry, and what these tests prove does not depend on the disk's fsync speed
# (a slow CI disk would take seconds per thousand dead letters). faults_teardown removes it.
spool_on_tmpfs() {
  if [[ -d /dev/shm && -w /dev/shm ]]; then
    FAULTS_SHM_STATE=$(mktemp -d /dev/shm/dtbus-faults.XXXXXX)
    export XDG_STATE_HOME=$FAULTS_SHM_STATE
  fi
}

# faults_teardown — cleanup_all, then the /dev/shm state of spool_on_tmpfs.
faults_teardown() {
  local rc=0
  cleanup_all || rc=$?
  [[ -z ${FAULTS_SHM_STATE:-} ]] || rm -rf "$FAULTS_SHM_STATE"
  return "$rc"
}
