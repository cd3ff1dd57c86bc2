#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Fault injection for `dtbus sub`'s output side, against a real mosquitto: an unwritable stdout
# (/dev/full, a closed descriptor) ends sub with exit 1 naming how many received messages were not
# written, and a durable session keeps what came after them; a reader that left (`| head -1`)
# ends sub within a second even when nothing more arrives; a frozen reader (SIGSTOP) does not
# make sub's memory grow past its --max-queue byte cap, and every message arrives once the reader
# resumes.

load helpers/common

setup_file() {
  dtbus_isolate_env
  broker_start main
  # In the ASan build, freed memory waits in a quarantine (256 MiB) before it is reused: without
  # it, sub's peak follows what it holds, as in a normal build.
  if [[ -n ${ASAN_OPTIONS:-} ]]; then
    export ASAN_OPTIONS="$ASAN_OPTIONS:quarantine_size_mb=0:thread_local_quarantine_size_kb=0"
  fi
}

teardown_file() { cleanup_all; }

setup() {
  dtbus_isolate_env
  T=fs$BATS_TEST_NUMBER
  P=$BROKER_MAIN_PORT
  write_config "$XDG_CONFIG_HOME/dtbus/brokers.yaml" <<EOF2
brokers:
  main:
    type: mqtt
    config:
      host: 127.0.0.1
      port: $P
default_broker: main
EOF2
}

teardown() { cleanup_all; }

@test "sub --session > /dev/full: exit 1 naming the unwritten messages; the session keeps the rest" {
  # A 16 kB queue: sub holds a few of the 900 messages of 1 kB when the first write fails. -W 5:
  # the old code wrote into /dev/full without a word until then, and exited 0.
  bg_start S bash -c \
    "exec dtbus sub --session '$T-f' -t '$T/f' -q 1 -o raw --max-queue 16K -W 5 >/dev/full"
  broker_wait_subscribed main "$T/f"
  seq 1 900 | awk '{ printf "%d:%01000d\n", $1, 0 }' | mosquitto_pub -p "$P" -t "$T/f" -q 1 -l
  run bg_wait S 10
  assert_equal "$status" 1
  run cat "$S_ERR"
  echo "$output" >&3
  assert_equal "${#lines[@]}" 1
  [[ $output =~ ^"dtbus sub: error: cannot write to stdout: No space left on device; "([0-9]+)" received message(s) were not written; the session keeps the messages that came after them"$ ]] ||
    fail "$output"
  local lost=${BASH_REMATCH[1]}
  ((lost >= 1 && lost <= 40))
  # Every message after the reported ones was left with the broker. (Some reported ones may come
  # again too: their acknowledgement may not have left before the exit. QoS 1 is at least once.)
  mosquitto_pub -p "$P" -t "$T/f" -q 1 -m "901:end"
  bg_start S dtbus sub --session "$T-f" -t "$T/f" -q 1 -o raw
  wait_for_line "$S_OUT" '^901:end$' 20
  bg_stop S INT
  run -0 "$DTBUS_PYTHON" - "$S_OUT" "$lost" <<'PY'
import sys
got = [int(l.split(":")[0]) for l in open(sys.argv[1]) if l.strip()]
lost = int(sys.argv[2])
print("again: %d..%d" % (got[0], got[-1]))
assert got[0] <= lost + 1, "a message after the reported ones is missing: %d" % got[0]
assert got == list(range(got[0], 902)), got
PY
  echo "$output" >&3
}

@test "sub > /dev/full without a session, and with stdout closed: exit 1, one error line" {
  bg_start S bash -c "exec dtbus sub -t '$T/q' -o json -W 10 >/dev/full"
  broker_wait_subscribed main "$T/q"
  mosquitto_pub -p "$P" -t "$T/q" -m '{"a":1}'
  run bg_wait S 5
  assert_equal "$status" 1
  run cat "$S_ERR"
  assert_output "dtbus sub: error: cannot write to stdout: No space left on device; 1 received message(s) were not written"
  # A closed stdout is found before connecting: nothing is received, nothing acknowledged.
  run --separate-stderr bash -c "exec dtbus sub -t '$T/c' -W 10 >&-"
  assert_equal "$status" 1
  assert_equal "$stderr" "dtbus sub: error: cannot write to stdout: Bad file descriptor; nothing was received"
}

# The time since the epoch in ms.
now_ms() { echo $((${EPOCHREALTIME/[.,]/} / 1000)); }

@test "dtbus sub | head -1 ends within a second of head, with no message after the burst" {
  bg_start PIPE bash -c "set -o pipefail; dtbus sub -t '$T/h' -o raw | head -1"
  broker_wait_subscribed main "$T/h"
  printf 'line%s\n' 1 2 3 | mosquitto_pub -p "$P" -t "$T/h" -l # one burst, then silence
  wait_for_file_lines "$PIPE_OUT" 1 10
  local start
  start=$(now_ms)
  run -0 bg_wait PIPE 10
  local took=$(($(now_ms) - start))
  echo "sub ended ${took} ms after head printed" >&3
  ((took < 1500))
  run cat "$PIPE_OUT"
  assert_output line1
  run cat "$PIPE_ERR"
  assert_output ""
  # A reader that leaves before any message: sub, idle, ends too.
  bg_start PIPE bash -c "set -o pipefail; dtbus sub -t '$T/i' -o raw | true"
  run -0 bg_wait PIPE 10
  run cat "$PIPE_ERR"
  assert_output ""
}

# vm_kib PID FIELD: a /proc/PID/status field (VmRSS, VmHWM) in KiB.
vm_kib() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }

# idle_sub_kib: the peak RSS of a subscribed `dtbus sub` that received nothing: the runtime's
# own memory (a sanitizer's too), to which the memory bounds below add the queue cap.
idle_sub_kib() {
  bg_start IDLE dtbus sub -t "$T/idle" -q 1 -o raw
  broker_wait_subscribed main "$T/idle"
  rss_settled "$IDLE"
  vm_kib "$IDLE" VmHWM
  bg_stop IDLE INT
}

# rss_settled PID: waits until PID's VmRSS has not changed for 1 s (5 samples 0.2 s apart);
# fails after 60 s.
rss_settled() {
  local last same=0 now tries=0
  last=$(vm_kib "$1" VmRSS)
  while ((same < 5)); do
    ((++tries < 300)) || fail "VmRSS of $1 still moving after 60 s"
    sleep 0.2
    now=$(vm_kib "$1" VmRSS)
    if [[ $now == "$last" ]]; then same=$((same + 1)); else same=0 last=$now; fi
  done
}

# publish_mib TOPIC N: N messages of 1 MiB ("<i>:xxx...") at QoS 1, each acknowledged by the broker.
publish_mib() {
  "$DTBUS_PYTHON" - "$P" "$1" "$2" <<'PY'
import sys
import paho.mqtt.client as mqtt
port, topic, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
c = mqtt.Client()
c.connect("127.0.0.1", port)
c.loop_start()
infos = [c.publish(topic, b"%d:" % i + b"x" * (1 << 20), qos=1) for i in range(n)]
for info in infos:
    info.wait_for_publish()
c.loop_stop()
c.disconnect()
PY
}

@test "a frozen reader: sub's memory stays under --max-queue plus a margin, and every message arrives" {
  local n=160 # 1 MiB each: far beyond the 64 MiB default cap
  local idle
  idle=$(idle_sub_kib)
  mkfifo pipe
  bg_start S bash -c "exec dtbus sub -t '$T/big' -q 1 -o raw >pipe"
  bg_start R bash -c "exec cat pipe >got.txt"
  wait_until 10 test -e "/proc/$R/fd/3" # cat has the pipe open (and sub its end)
  kill -STOP "$R"
  broker_wait_subscribed main "$T/big"
  publish_mib "$T/big" "$n"
  # Everything is with the broker or in sub now; once sub's memory stops moving, it took all it
  # will take while the reader is frozen.
  rss_settled "$S"
  local frozen_rss
  frozen_rss=$(vm_kib "$S" VmRSS)
  kill -CONT "$R"
  wait_for_file_lines got.txt "$n" 120
  local peak
  peak=$(vm_kib "$S" VmHWM)
  echo "sub: ${frozen_rss} KiB while the reader was frozen, peak ${peak} KiB, idle ${idle} KiB" >&3
  ((peak < idle + (64 + 24) * 1024)) # the runtime, the cap, and the message being read
  run -0 bash -c "cut -d: -f1 got.txt | sort -n | uniq | wc -l"
  assert_output "$n"
  bg_stop S INT
  run -0 bg_wait S 10
}

@test "--max-queue sets the cap: 8M keeps sub far below the default" {
  local n=60
  local idle
  idle=$(idle_sub_kib)
  mkfifo pipe
  bg_start S bash -c "exec dtbus sub -t '$T/m' -q 1 -o raw --max-queue 8M >pipe"
  bg_start R bash -c "exec cat pipe >got.txt"
  wait_until 10 test -e "/proc/$R/fd/3"
  kill -STOP "$R"
  broker_wait_subscribed main "$T/m"
  publish_mib "$T/m" "$n"
  rss_settled "$S"
  kill -CONT "$R"
  wait_for_file_lines got.txt "$n" 120
  local peak
  peak=$(vm_kib "$S" VmHWM)
  echo "sub --max-queue 8M: peak ${peak} KiB, idle ${idle} KiB" >&3
  ((peak < idle + (8 + 24) * 1024))
  run -0 bash -c "cut -d: -f1 got.txt | sort -n | uniq | wc -l"
  assert_output "$n"
  bg_stop S INT
  run -2 dtbus sub -t x --max-queue 0
  assert_output --partial "--max-queue must be at least 1 byte"
}

@test "a durable session's backlog (ahead of the SUBACK) is bounded by --max-queue too; a late SUBACK is waited for" {
  local n=160
  local idle
  idle=$(idle_sub_kib)
  run -6 dtbus sub --session "$T-b" -t "$T/b" -q 1 -W 0.3 # attach: the broker queues from now on
  publish_mib "$T/b" "$n"                                 # 160 MiB queued for the session
  mkfifo pipe
  # A 4 MiB queue fills before the SUBACK (behind the broker's 20 messages in flight) is read;
  # --connect-timeout 1: the SUBACK comes long after that, and sub must wait for it.
  bg_start S bash -c \
    "exec dtbus sub --session '$T-b' -t '$T/b' -q 1 -o raw --max-queue 4M --connect-timeout 1 >pipe"
  bg_start R bash -c "exec cat pipe >got.txt"
  wait_until 10 test -e "/proc/$R/fd/3"
  kill -STOP "$R"
  rss_settled "$S"
  sleep 3 # the fault: the reader stays frozen for three SUBACK timeouts
  pid_alive "$S"
  kill -CONT "$R"
  wait_for_file_lines got.txt "$n" 120
  local peak
  peak=$(vm_kib "$S" VmHWM)
  echo "sub --session --max-queue 4M with a 160 MiB backlog: peak ${peak} KiB, idle ${idle} KiB" >&3
  ((peak < idle + (4 + 24) * 1024))
  run -0 bash -c "cut -d: -f1 got.txt | sort -n | uniq | wc -l"
  assert_output "$n"
  bg_stop S INT
  run -0 bg_wait S 10
}
