#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Benchmarks dtbus pub/sub against mosquitto_pub/mosquitto_sub on the same machine and broker,
# measured in the same run (see bench/README.md). Starts its own mosquitto on a free port.
#
#   bench/pubsub.sh [BIN_DIR]      # default: build-release/bin (configure with -DCMAKE_BUILD_TYPE=Release)
#   N=200000 SUB_N=100000 RSS_N=1000000 RUNS=50 REPEAT=3 bench/pubsub.sh
#   ROWS="sub dumps" bench/pubsub.sh   # only some rows: pub sub dumps single rss (default: all)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
BIN=${1:-${DTBUS_BIN_DIR:-$here/../build-release/bin}}
N=${N:-200000}          # lines for the pub throughput runs
SUB_N=${SUB_N:-100000}  # messages for the sub end-to-end runs
QOS1_N=${QOS1_N:-60000} # lines for the QoS 1 runs against mosquitto_pub -l -q 1 (its id wrap)
RSS_N=${RSS_N:-1000000} # messages streamed for the peak RSS figures
RUNS=${RUNS:-50}        # single `pub -m` processes
REPEAT=${REPEAT:-3}     # each throughput figure is the best of REPEAT runs
ROWS=${ROWS:-pub sub dumps single rss}
want() { [[ " $ROWS " == *" $1 "* ]]; }
DTBUS="$BIN/dtbus"
DTBUS_PUB="$BIN/dtbus-pub"
DTBUS_SUB="$BIN/dtbus-sub"
for tool in "$DTBUS_PUB" "$DTBUS_SUB" mosquitto mosquitto_pub mosquitto_sub python3; do
  command -v "$tool" >/dev/null || { echo "bench: $tool not found" >&2; exit 1; }
done

work=$(mktemp -d)
broker_pid=""
cleanup() {
  [[ -n $broker_pid ]] && kill "$broker_pid" 2>/dev/null && wait "$broker_pid" 2>/dev/null
  [[ -n ${broker_wide_pid:-} ]] && kill "$broker_wide_pid" 2>/dev/null && wait "$broker_wide_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# Root: do not drop to user 'mosquitto' (it could not write our temp dir). No queue limit, so
# a slow subscriber loses nothing and every run measures the same work.
{ ((EUID == 0)) && echo "user root"; } >"$work/mosquitto.conf"
cat >>"$work/mosquitto.conf" <<EOF
listener $port 127.0.0.1
allow_anonymous true
max_queued_messages 10000000
log_dest file $work/mosquitto.log
log_type error
log_type warning
log_type subscribe
EOF
mosquitto -c "$work/mosquitto.conf" &
broker_pid=$!
# A second broker with a large in-flight window (Receive Maximum 1000; the default is 20).
port_wide=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
sed "s/^listener $port /listener $port_wide /; s|$work/mosquitto.log|$work/mosquitto-wide.log|" \
  "$work/mosquitto.conf" >"$work/mosquitto-wide.conf"
echo "max_inflight_messages 1000" >>"$work/mosquitto-wide.conf"
mosquitto -c "$work/mosquitto-wide.conf" &
broker_wide_pid=$!
for p in "$port" "$port_wide"; do
  for _ in $(seq 100); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $p), 0.1)" 2>/dev/null && break
    sleep 0.05
  done
done
H=(-h 127.0.0.1 -p "$port")
D=(-H 127.0.0.1 -p "$port" --no-color)

# Inputs: JSON lines like real tracker events (worst case for dtbus: every payload is parsed).
python3 - "$work" "$N" "$SUB_N" "$RSS_N" <<'PY'
import sys
work, n, sub_n, rss_n = sys.argv[1], *map(int, sys.argv[2:])
import json
for name, count in (("lines", n), ("sub", sub_n), ("rss", rss_n)):
    with open(f"{work}/{name}.txt", "w") as f:
        for i in range(count):
            f.write(f'{{"seq":{i},"kind":"meter_reading","value":{i * 7 % 1000},"unit":"kWh"}}\n')
# What the seed systems' Python producers send: json.dumps() spacing, a tracker envelope.
with open(f"{work}/dumps.txt", "w") as f:
    for i in range(sub_n):
        f.write(json.dumps({"trace_id": "550e8400-e29b-41d4-a716-446655440000",
                            "ts": "2025-01-15T10:30:00.123456+00:00", "kind": "meter_reading",
                            "idempotency_key": f"meter_reading_{i}",
                            "payload": {"seq": i, "value": i * 7 % 1000 / 10, "unit": "kWh"}}) + "\n")
PY

now() { python3 -c 'import time; print(time.monotonic())'; }
elapsed() { python3 -c "print(f'{$2 - $1:.3f}')"; }
best() { printf '%s\n' "$@" | sort -g | head -1; }

# time_cmd CMD... — wall seconds of one run (stdin from the caller)
time_cmd() {
  local t0 t1
  t0=$(now)
  "$@" >/dev/null
  t1=$(now)
  elapsed "$t0" "$t1"
}

# wait_subscribed FILTER COUNT — until the broker logged COUNT subscriptions to FILTER
wait_subscribed() {
  for _ in $(seq 200); do
    (($(grep -c " $1\$" "$work/mosquitto.log" || true) >= $2)) && return 0
    sleep 0.02
  done
  echo "bench: no subscription to $1" >&2
  return 1
}

rows=()
row() {
  rows+=("$(printf '%-44s %12s %12s %8s %8s %s' "$@")")
  echo "bench: ${rows[-1]}" >&2  # progress
}
ratio() { python3 -c "print(f'{$1 / $2:.2f}x')"; }

echo "bench: broker 127.0.0.1:$port, N=$N SUB_N=$SUB_N RSS_N=$RSS_N, best of $REPEAT" >&2

# 1-2. pub -l throughput
if want pub; then
mq0=() dq0=() dq1=()
for _ in $(seq "$REPEAT"); do
  mq0+=("$(time_cmd mosquitto_pub "${H[@]}" -t bench/pub -l -q 0 <"$work/lines.txt")")
  dq0+=("$(time_cmd "$DTBUS_PUB" "${D[@]}" -t bench/pub -l -q 0 <"$work/lines.txt")")
  dq1+=("$(time_cmd "$DTBUS_PUB" "${D[@]}" -t bench/pub -l -q 1 <"$work/lines.txt")")
done
m=$(best "${mq0[@]}") d0=$(best "${dq0[@]}") d1=$(best "${dq1[@]}")
rate() { python3 -c "print(f'{$N / $1:.0f}')"; }
row "pub -l QoS0 (msg/s)" "$(rate "$m")" "$(rate "$d0")" "$(ratio "$m" "$d0")" ">=1.0x" "vs mosquitto_pub -l QoS0"
row "pub -l QoS1, all acked (msg/s)" "$(rate "$m")" "$(rate "$d1")" "$(ratio "$m" "$d1")" ">=0.5x" "vs mosquitto_pub -l QoS0"
# QoS 1 against mosquitto_pub at QoS 1, on lines it sends without losing any (it wraps its
# message ids and stalls beyond ~64k lines), and the broker window: Receive Maximum 1000 vs 20.
head -n "$QOS1_N" "$work/lines.txt" >"$work/lines-qos1.txt"
mq1=() dq1=() dw1=()
for _ in $(seq "$REPEAT"); do
  mq1+=("$(time_cmd mosquitto_pub "${H[@]}" -t bench/pub -l -q 1 <"$work/lines-qos1.txt")")
  dq1+=("$(time_cmd "$DTBUS_PUB" "${D[@]}" -t bench/pub -l -q 1 <"$work/lines-qos1.txt")")
  dw1+=("$(time_cmd "$DTBUS_PUB" -H 127.0.0.1 -p "$port_wide" --no-color -t bench/pub -l -q 1 <"$work/lines-qos1.txt")")
done
m=$(best "${mq1[@]}") d1=$(best "${dq1[@]}") w1=$(best "${dw1[@]}")
rate1() { python3 -c "print(f'{$QOS1_N / $1:.0f}')"; }
row "pub -l QoS1, $QOS1_N lines (msg/s)" "$(rate1 "$m")" "$(rate1 "$d1")" "$(ratio "$m" "$d1")" ">=1.0x" "vs mosquitto_pub -l QoS1"
row "pub -l QoS1, Receive Maximum 1000 (msg/s)" "$(rate1 "$d1")" "$(rate1 "$w1")" "$(ratio "$d1" "$w1")" ">=1.0x" "dtbus at RM 1000 vs dtbus at RM 20"
fi

# 3. sub end to end: subscriber started, SUB_N messages published, time until it has them all
sub_e2e() { # input topic CMD... — prints seconds from the first publish to the subscriber's exit
  local input=$1 topic=$2 pid t0 t1 before
  shift 2
  before=$(grep -c " $topic\$" "$work/mosquitto.log" || true)
  "$@" >"$work/sub.out" &
  pid=$!
  wait_subscribed "$topic" $((before + 1))
  t0=$(now)
  mosquitto_pub "${H[@]}" -t "$topic" -l -q 0 <"$work/$input.txt"
  wait "$pid" || true
  t1=$(now)
  local got
  got=$(wc -l <"$work/sub.out")
  [[ $got == "$SUB_N" ]] || echo "bench: subscriber got $got of $SUB_N" >&2
  elapsed "$t0" "$t1"
}
if want sub; then
ms=() ds=()
for _ in $(seq "$REPEAT"); do
  ms+=("$(sub_e2e sub bench/sub mosquitto_sub "${H[@]}" -t bench/sub -C "$SUB_N" -W 120 -F %j)")
  ds+=("$(sub_e2e sub bench/sub "$DTBUS_SUB" "${D[@]}" -t bench/sub -C "$SUB_N" -W 120 -o json)")
done
m=$(best "${ms[@]}") d=$(best "${ds[@]}")
row "sub -o json, $SUB_N msgs end to end (s)" "$m" "$d" "$(ratio "$m" "$d")" ">=1.0x" "vs mosquitto_sub -F %j"
fi

# 3b. the same with json.dumps-style payloads (`{"kind": "a"}`): dtbus parses each, embeds the
# value and keeps the original text beside it ("payload_text")
if want dumps; then
ms=() ds=()
for _ in $(seq "$REPEAT"); do
  ms+=("$(sub_e2e dumps bench/dumps mosquitto_sub "${H[@]}" -t bench/dumps -C "$SUB_N" -W 120 -F %j)")
  ds+=("$(sub_e2e dumps bench/dumps "$DTBUS_SUB" "${D[@]}" -t bench/dumps -C "$SUB_N" -W 120 -o json)")
done
m=$(best "${ms[@]}") d=$(best "${ds[@]}")
row "sub -o json, json.dumps payloads (s)" "$m" "$d" "$(ratio "$m" "$d")" ">=1.0x" "vs mosquitto_sub -F %j"
fi

# 4. single pub -m process
if want single; then
loop_m() {
  local t0 t1
  t0=$(now)
  for _ in $(seq "$RUNS"); do "$@" >/dev/null; done
  t1=$(now)
  python3 -c "print(f'{($t1 - $t0) / $RUNS * 1000:.1f}')"
}
m=$(loop_m mosquitto_pub "${H[@]}" -t bench/m -m hello -q 1)
d=$(loop_m "$DTBUS_PUB" "${D[@]}" -t bench/m -m hello -q 1)
f=$(loop_m "$DTBUS" pub "${D[@]}" -t bench/m -m hello -q 1)
row "single dtbus-pub -m QoS1, mean of $RUNS (ms)" "$m" "$d" "$(python3 -c "print(f'{$d / $m:.2f}x')")" "<=1.5x" "wall time vs mosquitto_pub -m"
row "single dtbus pub -m QoS1, mean of $RUNS (ms)" "$m" "$f" "$(python3 -c "print(f'{$f / $m:.2f}x')")" "<=1.5x" "the same through the dtbus front door"
fi

# 5. peak RSS streaming RSS_N messages through pub -l (QoS1) and sub
if want rss; then
peak_rss() { # PID — polls VmHWM (KiB) until the process ends, prints the last value
  local pid=$1 hwm=0 v
  while :; do  # a zombie (exited, not yet reaped) has no VmHWM line any more
    v=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
    [[ -n $v ]] || break
    hwm=$v
    sleep 0.05
  done
  echo "$hwm"
}
before=$(grep -c " bench/rss\$" "$work/mosquitto.log" || true)
"$DTBUS_SUB" "${D[@]}" -t bench/rss -q 1 -C "$RSS_N" -W 600 -o json >/dev/null &
sub_pid=$!
wait_subscribed bench/rss $((before + 1))
"$DTBUS_PUB" "${D[@]}" -t bench/rss -l -q 1 <"$work/rss.txt" &
pub_pid=$!
sub_kib_file=$work/sub.kib
(peak_rss "$sub_pid" >"$sub_kib_file") &
sub_peak_pid=$!
pub_kib=$(peak_rss "$pub_pid")
wait "$pub_pid" || echo "bench: pub failed" >&2
wait "$sub_pid" || echo "bench: sub did not get every message" >&2
wait "$sub_peak_pid"
sub_kib=$(cat "$sub_kib_file")
mib() { python3 -c "print(f'{$1 / 1024:.1f}')"; }
row "peak RSS pub -l QoS1, $RSS_N msgs (MiB)" "-" "$(mib "$pub_kib")" "-" "<=32" "VmHWM"
row "peak RSS sub -o json, $RSS_N msgs (MiB)" "-" "$(mib "$sub_kib")" "-" "<=32" "VmHWM"
fi

printf '%-44s %12s %12s %8s %8s %s\n' "benchmark" "mosquitto" "dtbus" "ratio" "target" "note"
printf '%s\n' "${rows[@]}"
echo "machine: $(uname -srm), $(nproc) CPU(s), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(date -u +%Y-%m-%dT%H:%MZ)"
