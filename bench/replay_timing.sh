#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Timing error of `dtbus replay`: replays N records (default 10000) recorded GAP_MS apart
# (default 1 ms) at --speed 1 against a local mosquitto started on a free port, and reports
# percentiles of (actual send time - scheduled send time), taken from the replay's internal
# per-message log (DTBUS_REPLAY_TIMING_OUT). Target: p99 <= 5 ms.
#
#   bench/replay_timing.sh [--records N] [--gap-ms MS] [--qos Q] [--bin-dir DIR] [--json]
#
# Exit status: 0 when p99 meets the target, 1 when not, 2 on a setup problem.
set -euo pipefail

records=10000 gap_ms=1 qos=1 json=0 target_ms=5
bin_dir=${DTBUS_BIN_DIR:-$(cd "$(dirname "$0")/.." && pwd)/build/bin}
while (($#)); do
  case $1 in
    --records) records=$2; shift 2 ;;
    --gap-ms) gap_ms=$2; shift 2 ;;
    --qos) qos=$2; shift 2 ;;
    --bin-dir) bin_dir=$2; shift 2 ;;
    --json) json=1; shift ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "replay_timing: unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ -x $bin_dir/dtbus-replay ]] || { echo "replay_timing: no $bin_dir/dtbus-replay (build first or --bin-dir)" >&2; exit 2; }
command -v mosquitto >/dev/null || { echo "replay_timing: mosquitto not installed" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/dtbus-replay-bench.XXXXXX")
broker_pid=""
cleanup() {
  if [[ -n $broker_pid ]]; then
    kill "$broker_pid" 2>/dev/null || true
    wait "$broker_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nmax_inflight_messages 0\nmax_queued_messages 0\n' \
  "$port" > "$work/mosquitto.conf"
mosquitto -c "$work/mosquitto.conf" > "$work/mosquitto.log" 2>&1 &
broker_pid=$!
for _ in $(seq 100); do
  python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2)' "$port" \
    2>/dev/null && break
  sleep 0.05
done

python3 - "$records" "$gap_ms" "$qos" > "$work/rec.jsonl" <<'PY'
import json, sys
n, gap_ms, qos = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
start_ms = 1795423048000
for i in range(n):
    print(json.dumps({"topic": "bench/replay/%d" % (i % 16), "payload": {"i": i, "pad": "x" * 64},
                      "payload_encoding": "json", "qos": qos, "retain": False,
                      "received_at": start_ms + i * gap_ms}, separators=(",", ":")))
PY

DTBUS_REPLAY_TIMING_OUT=$work/timing.txt "$bin_dir/dtbus-replay" -H 127.0.0.1 -p "$port" \
  --no-progress -o json "$work/rec.jsonl" > "$work/summary.json"

python3 - "$work/timing.txt" "$work/summary.json" "$records" "$gap_ms" "$target_ms" "$json" <<'PY'
import json, sys
timing, summary_file, records, gap_ms, target_ms, as_json = sys.argv[1:]
errors = sorted((int(a) - int(d)) / 1e6 for d, a in (l.split() for l in open(timing)))
summary = json.load(open(summary_file))
def pct(p):
    return errors[min(len(errors) - 1, int(round(p / 100 * (len(errors) - 1))))]
result = {"records": int(records), "gap_ms": float(gap_ms), "sent": len(errors),
          "p50_ms": round(pct(50), 3), "p90_ms": round(pct(90), 3), "p99_ms": round(pct(99), 3),
          "max_ms": round(errors[-1], 3), "target_p99_ms": float(target_ms),
          "ideal_s": round((int(records) - 1) * float(gap_ms) / 1000, 3),
          "duration_s": summary.get("duration_s"), "acknowledged": summary.get("acknowledged")}
result["ok"] = result["p99_ms"] <= result["target_p99_ms"] and result["sent"] == int(records)
if as_json == "1":
    print(json.dumps(result))
else:
    print("replay timing error over %(sent)d records, %(gap_ms)g ms apart, --speed 1:" % result)
    print("  p50 %(p50_ms).3f ms   p90 %(p90_ms).3f ms   p99 %(p99_ms).3f ms   max %(max_ms).3f ms" % result)
    print("  run %(duration_s)s s (ideal %(ideal_s)s s), %(acknowledged)s acknowledged" % result)
    print("  target p99 <= %g ms: %s" % (result["target_p99_ms"], "met" if result["ok"] else "MISSED"))
sys.exit(0 if result["ok"] else 1)
PY
