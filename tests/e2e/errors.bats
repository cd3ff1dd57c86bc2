#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Error lines against a real mosquitto: MQTT reason codes by name and number wherever the broker
# sends one (CONNACK, SUBACK, PUBACK; mosquitto 2.0.11 closes the socket before a DISCONNECT of
# its own reaches the client, so that one is not tested here), and no raw control bytes from
# outside (topics, file names, names given on the command line) in them.
# bats file_tags=broker

load helpers/common

setup_file() {
  dtbus_isolate_env
  local acl=$BATS_FILE_TMPDIR/acl
  # anonymous clients may only use open/#
  printf 'topic readwrite open/#\n' >"$acl"
  broker_start acl --extra "acl_file $acl"
  # mosquitto's acl_file never refuses a SUBSCRIBE; its dynamic security plugin does
  local plugin
  plugin=$(echo /usr/lib/*/mosquitto_dynamic_security.so)
  printf '%s\n' '{"clients": [], "groups": [], "roles": [], "defaultACLAccess": {' \
    '"publishClientSend": false, "publishClientReceive": true, "subscribe": false,' \
    '"unsubscribe": true}}' >"$BATS_FILE_TMPDIR/dynsec.json"
  broker_start nosub --extra "plugin $plugin" \
    --extra "plugin_opt_config_file $BATS_FILE_TMPDIR/dynsec.json"
  broker_start secured --password
}

teardown_file() { cleanup_all; }

setup() { dtbus_isolate_env; }

teardown() { cleanup_all; }

# No byte below 0x20 (but the newlines between lines) and no DEL in $output.
refute_control_bytes() {
  if LC_ALL=C grep -q $'[\x01-\x09\x0b-\x1f\x7f]' <<<"$output"; then
    printf 'raw control bytes in: %q\n' "$output" >&2
    return 1
  fi
}

@test "CONNACK refusal: the reason by name and code (MQTT 5 and 3.1.1), exit 5" {
  local p=(-H 127.0.0.1 -p "$BROKER_SECURED_PORT" -u alice -P wrong-password -t open/x -m x)
  # (mosquitto answers a wrong password with "not authorized")
  run -5 dtbus pub "${p[@]}"
  assert_output --partial "refused the connection: not authorized (0x87)"
  run -5 dtbus pub "${p[@]}" -V 311
  assert_output --partial "refused the connection: not authorized (0x05)"
}

@test "SUBACK refusal: the reason by name and code, exit 5" {
  run -5 dtbus sub -H 127.0.0.1 -p "$BROKER_NOSUB_PORT" -t closed/x -W 5
  assert_output --partial "broker refused the subscription to 'closed/x': not authorized (0x87)"
  run -5 dtbus sub -H 127.0.0.1 -p "$BROKER_NOSUB_PORT" -t closed/x -W 5 -V 311
  assert_output --partial "broker refused the subscription to 'closed/x': unspecified error (0x80)"
}

@test "PUBACK refusal: the reason by name and code in the log and in --failed-out, exit 7" {
  run -7 --separate-stderr dtbus pub -H 127.0.0.1 -p "$BROKER_ACL_PORT" -q 1 -t closed/x -m x \
    --failed-out failed.jsonl
  output=$stderr
  assert_output --partial "not authorized (0x87)"
  run -0 cat failed.jsonl
  assert_output --partial '"error":"rejected by the broker: not authorized (0x87)"'
}

@test "an ESC in a topic is printed escaped, never raw" {
  run -2 dtbus pub -H 127.0.0.1 -p "$BROKER_ACL_PORT" -t $'open/\e[31mred\e]0;title\a' -m x
  assert_output --partial 'open/\x1b[31mred\x1b]0;title\x07'
  refute_control_bytes
}

@test "a warning carrying a topic filter prints its control bytes escaped" {
  # libmosquitto then refuses the filter itself (malformed UTF-8): exit 2, after the warning
  run -2 dtbus sub -H 127.0.0.1 -p "$BROKER_ACL_PORT" -t $'open/*\e[2J' -W 1
  assert_output --partial "dtbus sub: warning: topic filter 'open/*\x1b[2J'"
  refute_control_bytes
}

@test "a control byte in a file name or a name from the command line is printed escaped, never raw" {
  run -3 dtbus token -c $'missing\e[2J.yaml'
  assert_output --partial 'missing\x1b[2J.yaml'
  refute_control_bytes
  printf 'token_providers: {}\n' >brokers.yaml
  run -3 dtbus token -c brokers.yaml --provider $'kc\r\e[1A'
  assert_output --partial "no token provider named 'kc\\x0d\\x1b[1A'"
  refute_control_bytes
}

# tcp_connected PORT — an established client connection to 127.0.0.1:PORT exists.
tcp_connected() {
  local hex
  printf -v hex '%04X' "$1"
  awk -v port=":$hex" '$3 ~ port "$" && $4 == "01" { found = 1 } END { exit !found }' /proc/net/tcp
}

@test "SIGTERM while connecting to a broker that does not answer ends at once (pub and config test 130, sub 0)" {
  broker_start frozen
  broker_pause frozen
  local cmd
  printf 'brokers:\n  frozen:\n    config:\n      host: 127.0.0.1\n      port: %s\n' "$BROKER_FROZEN_PORT" >frozen.yaml
  for cmd in pub sub config; do
    if [[ $cmd == pub ]]; then
      bg_start C dtbus pub -H 127.0.0.1 -p "$BROKER_FROZEN_PORT" -q 1 -t open/x -m x --connect-timeout 30
    elif [[ $cmd == sub ]]; then
      bg_start C dtbus sub -H 127.0.0.1 -p "$BROKER_FROZEN_PORT" -t open/x --connect-timeout 30
    else
      bg_start C dtbus config test --connect -c frozen.yaml --connect-timeout 30
    fi
    # ready: its TCP connection is up (the kernel accepts it for the frozen broker), CONNACK pending
    wait_until 10 tcp_connected "$BROKER_FROZEN_PORT"
    kill -TERM "$C"
    run bg_wait C 3
    if [[ $cmd == sub ]]; then
      assert_equal "$status" 0 # SPEC §2: sub ends with 0 on SIGINT/SIGTERM
    else
      assert_equal "$status" 130
      run -0 cat "$C_ERR"
      assert_output --regexp "dtbus $cmd: error: interrupted while connecting to .*127.0.0.1:$BROKER_FROZEN_PORT"
    fi
  done
  broker_resume frozen
}
