#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# dtbus top against a real mosquitto, inside tmux (one server per test, own -L socket): keys go in
# with send-keys, the screen comes out with capture-pane. Readiness is polled on the screen.

load helpers/common

setup_file() {
  dtbus_isolate_env
  broker_start main
  # The ASan build's quarantine of freed memory (256 MiB) would hide what top holds: off, as in
  # faults_sub.bats. (Each test's tmux server passes the environment on to top.)
  if [[ -n ${ASAN_OPTIONS:-} ]]; then
    export ASAN_OPTIONS="$ASAN_OPTIONS:quarantine_size_mb=0:thread_local_quarantine_size_kb=0"
  fi
}

teardown_file() { cleanup_all; }

setup() {
  dtbus_isolate_env
  T=t$BATS_TEST_NUMBER
  P=$BROKER_MAIN_PORT
  # tmux puts its sockets under $TMUX_TMPDIR: the test's directory, removed with it.
  export TMUX_TMPDIR=$BATS_TEST_TMPDIR
  TOP_SOCKETS=()
  write_config "$XDG_CONFIG_HOME/dtbus/brokers.yaml" <<EOF
brokers:
  main:
    type: mqtt
    config:
      host: 127.0.0.1
      port: $P
default_broker: main
EOF
}

teardown() {
  local socket
  for socket in "${TOP_SOCKETS[@]}"; do
    tmux -L "$socket" kill-server 2>/dev/null || true
  done
  cleanup_all
}

# tmux on the server of the last top_start (each start has its own -L socket).
tm() { tmux -L "${TOP_SOCKETS[-1]}" -f /dev/null "$@"; }
mpub() { mosquitto_pub -h 127.0.0.1 -p "$P" "$@"; }

# top_start ARGS... — `dtbus top ARGS` in an 80x24 tmux session named top; its exit status goes
# to ./rc, the pid of the shell around it to ./shell.pid. Returns once the screen is drawn.
top_start() {
  printf '%s\n' '#!/usr/bin/env bash' 'echo $$ >shell.pid' 'dtbus top "$@"' 'echo $? >rc' >run-top
  chmod +x run-top
  rm -f rc shell.pid
  TOP_SOCKETS+=("dtbus-top-$BATS_TEST_NUMBER-${#TOP_SOCKETS[@]}")
  tm new-session -d -s top -x 80 -y 24 -c "$PWD" ./run-top "$@"
  wait_screen 'q quit'
}

# The pid of dtbus top (the child of the shell around it).
top_pid() { pgrep -P "$(cat shell.pid)"; }

screen() { tm capture-pane -p -t top 2>/dev/null; }
screen_has() { screen | grep -qE -- "$1"; }
# (a function, not `! screen_has` in a test: bash's errexit ignores a negated command)
screen_lacks() { ! screen_has "$1"; }
# wait_screen REGEX [TIMEOUT]: polls the screen until a line matches; shows the screen if not.
wait_screen() {
  wait_until "${2:-10}" screen_has "$1" || {
    echo "screen (waiting for /$1/):" >&2
    screen >&2
    return 1
  }
}
keys() { tm send-keys -t top "$@"; }
# The line number (1-based) of the first screen line matching REGEX.
line_of() { screen | grep -nE -- "$1" | head -1 | cut -d: -f1; }

@test "the tree shows the published topics with counts and rates as sent" {
  top_start "$T/#"
  broker_wait_subscribed main "$T/#"
  for i in 1 2 3 4 5; do mpub -t "$T/plant/temp" -m "{\"value\": 2$i.5}"; done
  for i in 1 2 3; do mpub -t "$T/plant/hum" -m "$i" -q 1; done
  mpub -t "$T/bin" -m "$(printf 'a\377b')" -r
  mpub -t "$T/ctl" -m "$(printf 'a\001b')"
  wait_screen "· 4 topics · 10 msgs ·"
  # per row: MSGS MSG/S 1MIN/S B/S AGE QR PAYLOAD
  wait_screen '^ +temp +5 +[0-9.]+ +0\.08 +[0-9.K]+ +[0-9]+s 0  \{"value":25\.5\}'
  wait_screen '^ +hum +3 +[0-9.]+ +0\.05 +[0-9.K]+ +[0-9]+s 1  3 *$'
  wait_screen '^ +▾ plant +8 +[0-9.]+ +0\.13 .*\(2 topics\)'
  wait_screen '^ +bin +1 .* 0r hex 61 ff 62 \(3 B\) *$'
  wait_screen '^ +ctl +1 .* 0  a\\x01b *$'
  # sorted by name: bin before plant, hum before temp
  (($(line_of ' bin ') < $(line_of '▾ plant')))
  (($(line_of ' hum ') < $(line_of ' temp ')))
}

@test "the filter and the sort change the view" {
  top_start "$T/#"
  broker_wait_subscribed main "$T/#"
  mpub -t "$T/a/slow" -m 1
  for i in $(seq 10); do mpub -t "$T/z/fast" -m "$i"; done
  wait_screen "11 msgs"
  (($(line_of '▾ a ') < $(line_of '▾ z ')))
  keys s
  wait_screen "sort rate"
  (($(line_of '▾ z ') < $(line_of '▾ a ')))
  keys s
  wait_screen "sort last seen"
  keys s
  wait_screen "sort name"
  keys / f a s Enter
  wait_screen 'filter "fas"'
  screen_has ' fast '
  screen_lacks ' slow '
  keys Escape
  wait_screen ' slow '
}

@test "the detail pane shows the selected topic's last payload, pretty, and its history" {
  top_start "$T/#"
  broker_wait_subscribed main "$T/#"
  mpub -t "$T/dev/7" -m '{"state": "idle"}'
  mpub -t "$T/dev/7" -m '{"state": "running", "load": [1, 2]}' -q 1 -r
  wait_screen ' 7 +2 '
  keys G # the last row: dev/7
  wait_screen "^── $T/dev/7 ── 2 msgs · q1 · retained"
  wait_screen '^    "state": "running",$'
  wait_screen '^    "load": \[$'
  wait_screen '^last 2 messages, newest first:'
  wait_screen '^  [0-9:.]{12} q1r +36  \{"state":"running","load":\[1,2\]\}'
  wait_screen '^  [0-9:.]{12} q0  +17  \{"state":"idle"\}'
  # c: the shell-ready sub command for it, with top's connection options; it works as shown.
  keys c
  wait_screen "^dtbus sub -t $T/dev/7 *\$"
  local command
  command=$(screen | grep '^dtbus sub ' | sed 's/ *$//')
  run -0 bash -c "$command -C 1 -W 10 -o raw"
  assert_output '{"state": "running", "load": [1, 2]}'
}

@test "q quits with 0" {
  top_start "$T/#"
  keys q
  wait_until 10 test -s rc
  run cat rc
  assert_output 0
}

@test "SIGTERM ends it with 0 too" {
  top_start "$T/#"
  kill -TERM "$(top_pid)"
  wait_until 10 test -s rc
  run cat rc
  assert_output 0
}

@test "a resize redraws the whole screen at the new size" {
  local long='{"reading": "a value long enough to be cut at eighty columns", "n": 1}'
  top_start "$T/#"
  broker_wait_subscribed main "$T/#"
  mpub -t "$T/s" -m "$long"
  wait_screen '"reading":"a value long.*…'
  screen_lacks '"n":1\}'
  tm resize-window -t top -x 160 -y 40
  wait_screen '"reading":"a value long enough to be cut at eighty columns","n":1\}'
  (($(screen | wc -l) == 40))
  screen | tail -1 | grep -q 'q quit'
  tm resize-window -t top -x 80 -y 24
  wait_screen '"reading":"a value long.*…'
  (($(screen | wc -l) == 24))
}

@test "\$SYS summary line from mosquitto" {
  top_start "$T/#"
  wait_screen '^\$SYS mosquitto version [0-9.]+ · ' 15
}

# The screen with its SGR escapes, kept in ./screen-N.txt for a failure's report.
screen_sgr() { tm capture-pane -e -p -t top | tee "screen-${#TOP_SOCKETS[@]}.txt"; }
sgr_has() { screen_sgr | grep -qE -- "$1"; }
sgr_lacks() { ! sgr_has "$1"; }

@test "colour unless NO_COLOR or --no-color" {
  local sgr_color=$'\e\\[([0-9;]*;)?(3|4)[0-7]m'
  top_start "$T/#"
  sgr_has "$sgr_color"
  tm kill-server
  NO_COLOR=1 top_start "$T/#"
  sgr_lacks "$sgr_color"
  sgr_has $'\e\\[([0-9;]*;)?7m' # the title, in reverse video
  tm kill-server
  top_start "$T/#" --no-color
  sgr_lacks "$sgr_color"
}

@test "not a terminal: exit 2, pointing to sub" {
  run -2 dtbus top "$T/#"
  assert_output --partial "stdout is not a terminal"
  assert_output --partial "dtbus sub '$T/#'"
  run -2 bash -c "set -o pipefail; dtbus top -t '$T/#' </dev/null | cat"
}

@test "10,000 topics stay within the memory bound and the view keeps up" {
  local idle peak
  top_start "$T/idle/#"
  idle=$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$(top_pid)/status")
  keys q
  wait_until 10 test -s rc
  tm kill-server 2>/dev/null || true
  top_start "$T/#"
  broker_wait_subscribed main "$T/#"
  "$DTBUS_PYTHON" - "$P" "$T" <<'PY'
import sys
import paho.mqtt.client as mqtt
port, prefix = int(sys.argv[1]), sys.argv[2]
c = mqtt.Client()
c.connect("127.0.0.1", port)
c.loop_start()
payload = b'{"id": %d, "value": 21.5, "unit": "C", "pad": "' + b"x" * 150 + b'"}'
infos = [c.publish("%s/site%d/sensor/%d" % (prefix, i % 10, i), payload % i, qos=1)
         for i in range(10000)]
for info in infos:
    info.wait_for_publish()
c.loop_stop()
c.disconnect()
PY
  wait_screen "· 10000 topics · 10000 msgs ·" 60
  peak=$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$(top_pid)/status")
  echo "# top: idle peak ${idle} KiB, with 10,000 topics ${peak} KiB" >&3
  ((peak - idle < 60 * 1024))
  # Still answering keys at once.
  keys s
  wait_screen "sort rate" 5
  keys q
  wait_until 10 test -s rc
  run cat rc
  assert_output 0
}

@test "a fast stream: every message counted, no backlog behind the screen" {
  top_start "$T/#"
  broker_wait_subscribed main "$T/#"
  "$DTBUS_PYTHON" - "$P" "$T" <<'PY'
import sys
import paho.mqtt.client as mqtt
port, prefix = int(sys.argv[1]), sys.argv[2]
c = mqtt.Client()
c.max_inflight_messages_set(1000)
c.max_queued_messages_set(0)
c.connect("127.0.0.1", port)
c.loop_start()
infos = [c.publish("%s/load/%d" % (prefix, i % 50), b'{"i": %d}' % i, qos=1) for i in range(50000)]
for info in infos:
    info.wait_for_publish()
c.loop_stop()
c.disconnect()
PY
  # Everything is with the broker: top has counted it all within a few frames.
  wait_screen "· 50 topics · 50000 msgs ·" 5
  wait_screen '^ +▾ load +50000 '
}

@test "p pauses the numbers, p again resumes them" {
  top_start "$T/#"
  broker_wait_subscribed main "$T/#"
  mpub -t "$T/x" -m 1
  wait_screen "· 1 msgs ·"
  keys p
  wait_screen "· PAUSED"
  # Another subscriber sees when the messages are out; top, paused, keeps showing 1 meanwhile
  # (watched over 1 s, ten frames: an unpaused top redraws within one).
  bg_start WITNESS mosquitto_sub -h 127.0.0.1 -p "$P" -t "$T/x" -C 2 -W 10
  broker_wait_subscribed main "$T/x"
  mpub -t "$T/x" -m 2
  mpub -t "$T/x" -m 3
  bg_wait WITNESS
  local i
  for i in $(seq 10); do
    screen_has "· 1 msgs · .*PAUSED"
    sleep 0.1
  done
  keys p
  wait_screen "· 3 msgs ·"
}

@test "enter folds and unfolds a level" {
  top_start "$T/#"
  broker_wait_subscribed main "$T/#"
  mpub -t "$T/a/b" -m 1
  wait_screen '^ +b +1 '
  keys Enter # the first row: T
  wait_screen "^>▸ $T "
  screen_lacks '^ +b +1 '
  keys Enter
  wait_screen '^ +b +1 '
}

@test "--validate marks each message of the detail pane as sub does" {
  top_start "$T/#" --validate tracker
  broker_wait_subscribed main "$T/#"
  mpub -t "$T/ev" -m '{"trace_id": "5f0c6a1e-8d1b-4c1e-9a53-2b7e0e6c1001", "ts": "2026-12-03T10:00:00Z", "kind": "created", "idempotency_key": "k1"}'
  mpub -t "$T/ev" -m '{"kind": "created"}'
  wait_screen ' ev +2 '
  keys G
  wait_screen "^── $T/ev ── 2 msgs"
  wait_screen '^✗ invalid: .*trace_id'
  wait_screen '^  [0-9:.]{12} q0 +19  ✗ \{"kind":"created"\}'
  wait_screen '^  [0-9:.]{12} q0 +126  ✓ \{"trace_id":'
}
