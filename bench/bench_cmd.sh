#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `dtbus bench` beside mosquitto_pub -l + mosquitto_sub on the same broker, in the same run (see
# bench/README.md): the generator must not be the bottleneck. Starts its own mosquitto on a free
# port. Each figure is the best of REPEAT runs.
#
#   bench/bench_cmd.sh [BIN_DIR]          # default: build-release/bin
#   N=200000 SIZE=64 REPEAT=3 RSS_S=20 bench/bench_cmd.sh build/bin
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
BIN=${1:-${DTBUS_BIN_DIR:-$here/../build-release/bin}}
N=${N:-200000}      # messages per throughput run
SIZE=${SIZE:-64}    # payload bytes (dtbus: 32-byte header + padding; mosquitto: SIZE chars)
REPEAT=${REPEAT:-3} # best of
RSS_S=${RSS_S:-20}  # seconds of a max-rate QoS 0 bench for the peak RSS figure
ROWS=${ROWS:-qos0 rss}   # qos1 too: mosquitto_pub -l -q 1 may lose messages (mosquitto_sub then
                          # waits out -W 30 and the row counts what it got)
want() { [[ " $ROWS " == *" $1 "* ]]; }
DTBUS_BENCH="$BIN/dtbus-bench"
for tool in "$DTBUS_BENCH" mosquitto mosquitto_pub mosquitto_sub python3 jq; do
  command -v "$tool" >/dev/null || { echo "bench: $tool not found" >&2; exit 1; }
done

work=$(mktemp -d)
broker_pid=""
cleanup() {
  [[ -n $broker_pid ]] && kill "$broker_pid" 2>/dev/null && wait "$broker_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
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
for _ in $(seq 100); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.1)" 2>/dev/null && break
  sleep 0.05
done
H=(-h 127.0.0.1 -p "$port")
D=(-H 127.0.0.1 -p "$port" --no-color --no-progress)

python3 -c "
import sys
line = ('x' * $SIZE) + '\n'
sys.stdout.write(line * $N)" >"$work/lines.txt"

now() { python3 -c 'import time; print(time.monotonic())'; }
best_max() { printf '%s\n' "$@" | sort -g | tail -1; }

wait_subscribed() { # FILTER COUNT
  for _ in $(seq 200); do
    (($(grep -c " $1\$" "$work/mosquitto.log" || true) >= $2)) && return 0
    sleep 0.02
  done
  echo "bench: no subscription to $1" >&2
  return 1
}

# mosquitto_rate QOS — msg/s from the first publish to the subscriber's last message
mosquitto_rate() {
  local qos=$1 topic=bench/mq$1 before pid t0 t1 got
  before=$(grep -c " $topic\$" "$work/mosquitto.log" || true)
  mosquitto_sub "${H[@]}" -t "$topic" -q "$qos" -C "$N" -W 30 >"$work/sub.out" &
  pid=$!
  wait_subscribed "$topic" $((before + 1))
  t0=$(now)
  mosquitto_pub "${H[@]}" -t "$topic" -l -q "$qos" <"$work/lines.txt"
  wait "$pid" || true
  t1=$(now)
  got=$(wc -l <"$work/sub.out")
  [[ $got == "$N" ]] || echo "bench: mosquitto_sub got $got of $N" >&2
  python3 -c "print(f'{$got / ($t1 - $t0):.0f}')"
}

# dtbus_rate QOS — receive_msgs_per_s of one dtbus bench run
dtbus_rate() {
  "$DTBUS_BENCH" "${D[@]}" -q "$1" -n "$N" -s "$SIZE" -t "bench/d$1/%i" -o json >"$work/d.json" || true
  jq -r '.throughput.receive_msgs_per_s' "$work/d.json"
  jq -c '{lost: .messages.lost, p99_ms: .latency_ms.end_to_end.p99}' "$work/d.json" >&2
}

rows=()
row() {
  rows+=("$(printf '%-44s %12s %12s %8s %8s %s' "$@")")
  echo "bench: ${rows[-1]}" >&2
}
ratio() { python3 -c "print(f'{$2 / $1:.2f}x')"; }

echo "bench: broker 127.0.0.1:$port, N=$N SIZE=$SIZE, best of $REPEAT" >&2
for qos in 0 1; do
  want "qos$qos" || continue
  ms=() ds=()
  for _ in $(seq "$REPEAT"); do
    ms+=("$(mosquitto_rate "$qos")")
    ds+=("$(dtbus_rate "$qos")")
  done
  m=$(best_max "${ms[@]}") d=$(best_max "${ds[@]}")
  row "QoS $qos, 1 pub + 1 sub, $SIZE B (msg/s)" "$m" "$d" "$(ratio "$m" "$d")" ">=1.0x" \
    "vs mosquitto_pub -l + mosquitto_sub"
done

if want rss; then
  "$DTBUS_BENCH" "${D[@]}" -q 0 -d "$RSS_S" -s "$SIZE" -t bench/rss/%i -o json >"$work/rss.json" &
  pid=$!
  hwm=0
  while :; do
    v=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
    [[ -n $v ]] || break
    hwm=$v
    sleep 0.1
  done
  wait "$pid" || true
  row "peak RSS, ${RSS_S} s max-rate QoS 0 (MiB)" "-" "$(python3 -c "print(f'{$hwm / 1024:.1f}')")" \
    "-" "<=32" "VmHWM, $(jq -r .messages.published "$work/rss.json") msgs"
fi

printf '%-44s %12s %12s %8s %8s %s\n' benchmark mosquitto dtbus ratio target note
printf '%s\n' "${rows[@]}"
echo "machine: $(uname -srm), $(nproc) CPU(s), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(date -u +%FT%H:%MZ)"
