#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Connection options against real mosquitto brokers: first-connect retries (--retry, --retry-for,
# connect_retries), will messages (--will-*, will: in the entry).

load helpers/common

setup_file() {
  dtbus_isolate_env
  broker_start main
}

teardown_file() { cleanup_all; }

setup() {
  dtbus_isolate_env
  T=t$BATS_TEST_NUMBER
  P=$BROKER_MAIN_PORT
}

teardown() { cleanup_all; }

# config NAME PORT [EXTRA CONFIG LINES] — a brokers.yaml with one default entry; a short
# reconnect_interval keeps the backoff of the retry tests short.
config() {
  write_config "$XDG_CONFIG_HOME/dtbus/brokers.yaml" <<EOF
brokers:
  $1:
    type: mqtt
    config:
      host: 127.0.0.1
      port: $2
      reconnect_interval: 0.2
${3:-}
default_broker: $1
EOF
}

@test "without --retry a refused first connect exits 4 at once" {
  config down "$(free_port)"
  run -4 --separate-stderr run_with_timeout 20 dtbus pub -t "$T" -m x
  assert_output ""
  [[ $stderr == *"cannot connect to down (127.0.0.1:"* ]]
  [[ $stderr != *attempt* ]]
}

@test "--retry N exhausted exits 4 naming the attempts" {
  config down "$(free_port)"
  run -4 --separate-stderr run_with_timeout 30 dtbus pub --retry 3 -t "$T" -m x
  [[ $stderr == *"attempt 1 failed, retrying in"* ]]
  [[ $stderr == *"attempt 3 failed, retrying in"* ]]
  [[ $stderr == *"error: cannot connect to down (127.0.0.1:"*"(gave up after 4 attempts in "* ]]
}

@test "connect_retries in the entry retries; --retry 0 overrides it" {
  config down "$(free_port)" "      connect_retries: 2"
  run -4 --separate-stderr run_with_timeout 30 dtbus sub -t "$T" -W 5
  [[ $stderr == *"(gave up after 3 attempts in "* ]]
  run -4 --separate-stderr run_with_timeout 30 dtbus sub --retry 0 -t "$T" -W 5
  [[ $stderr != *attempt* ]]
}

@test "--retry-for: a pub started while the broker is down delivers once it starts" {
  broker_start late
  broker_stop late
  config late "$BROKER_LATE_PORT"
  bg_start PUB dtbus pub --retry-for 30s -t "$T" -m "after the restart" -q 1 -r
  wait_for_line "$PUB_ERR" "attempt 2 failed, retrying in" 20
  pid_alive "$PUB"
  broker_restart late
  run -0 bg_wait PUB 30
  run -0 mosquitto_sub -h 127.0.0.1 -p "$BROKER_LATE_PORT" -t "$T" -C 1 -W 10
  assert_output "after the restart"
}

@test "--retry does not retry refused credentials (exit 5)" {
  broker_start locked --password
  config locked "$BROKER_LOCKED_PORT"
  run -5 --separate-stderr run_with_timeout 30 dtbus pub --retry 5 -u alice --password-file /dev/null -t "$T" -m x
  [[ $stderr != *attempt* ]]
}

@test "--retry-for takes 30s, 2m, 1h and bare seconds; anything else is a usage error" {
  config down "$(free_port)"
  run -2 --separate-stderr dtbus pub --retry-for soon -t "$T" -m x
  [[ $stderr == *"--retry-for soon: expected a duration > 0 such as 30s, 2m or 1h"* ]]
  run -2 --separate-stderr dtbus pub --retry-for 0 -t "$T" -m x
  run -4 --separate-stderr run_with_timeout 20 dtbus pub --retry-for 0.5 -t "$T" -m x
  [[ $stderr == *"gave up after"* ]]
}

@test "--will-topic: a sub killed with SIGKILL has its will published" {
  config main "$P"
  bg_start W mosquitto_sub -h 127.0.0.1 -p "$P" -t "$T/will" -C 1 -W 20 -v
  broker_wait_subscribed main "$T/will"
  bg_start S dtbus sub -t "$T/data" --will-topic "$T/will" --will-payload "sub died" --will-qos 1
  broker_wait_subscribed main "$T/data"
  bg_stop S KILL
  run -0 bg_wait W 20
  run cat "$W_OUT"
  assert_output "$T/will sub died"
}

@test "a will is not published when the command ends normally" {
  config main "$P"
  bg_start W mosquitto_sub -h 127.0.0.1 -p "$P" -t "$T/#" -v
  broker_wait_subscribed main "$T/#"
  run -0 dtbus pub --will-topic "$T/will" --will-payload gone -t "$T/data" -m normal -q 1
  # the marker after the pub: once it arrives, a will would have arrived before it
  mosquitto_pub -h 127.0.0.1 -p "$P" -t "$T/marker" -m end -q 1
  wait_for_line "$W_OUT" "^$T/marker end" 10
  run cat "$W_OUT"
  assert_output "$T/data normal
$T/marker end"
}

@test "will: in the broker entry, retained, with the topic_prefix" {
  config main "$P" "      topic_prefix: $T/
    will:
      topic: status
      payload: offline
      qos: 1
      retain: true"
  bg_start S dtbus sub -t data
  broker_wait_subscribed main "$T/data"
  bg_stop S KILL
  # retained: a subscriber that comes afterwards sees it
  run -0 mosquitto_sub -h 127.0.0.1 -p "$P" -t "$T/status" -C 1 -W 10 -v
  assert_output "$T/status offline"
  mosquitto_pub -h 127.0.0.1 -p "$P" -t "$T/status" -r -n
}

@test "--will-payload without --will-topic, and a will topic with a wildcard, are usage errors" {
  config main "$P"
  run -2 --separate-stderr dtbus pub --will-payload x -t "$T" -m x
  [[ $stderr == *"need --will-topic"* ]]
  run -2 --separate-stderr dtbus pub --will-topic "$T/#" -t "$T" -m x
}

@test "a will: without a topic is a config error naming the field" {
  config main "$P" "    will:
      payload: x"
  run -3 --separate-stderr dtbus pub -t "$T" -m x
  [[ $stderr == *"brokers.main.will: a will needs a topic"* ]]
}

# tls_broker — a TLS listener that accepts only TLS 1.3 (mosquitto's tls_version is the lowest
# version it accepts), client certificates required
tls_broker() {
  broker_start tls12 --require-cert --extra "tls_version tlsv1.3"
  TLS=(-H localhost -p "$BROKER_TLS12_PORT" --cafile "$BROKER_TLS12_CAFILE")
  CERT=(--cert "$BROKER_TLS12_CLIENT_CERT" --key "$BROKER_TLS12_CLIENT_KEY")
}

@test "--tls-version: tlsv1.2 against a TLS 1.3 broker fails the handshake (exit 4); tlsv1.3 works" {
  tls_broker
  run -4 --separate-stderr dtbus pub "${TLS[@]}" "${CERT[@]}" --tls-version tlsv1.2 -t "$T" -m x
  [[ $stderr == *"TLS handshake with localhost:$BROKER_TLS12_PORT failed: "*"protocol version"* ]]
  run -0 --separate-stderr dtbus pub "${TLS[@]}" "${CERT[@]}" --tls-version tlsv1.3 -t "$T" -m x
  run -2 --separate-stderr dtbus pub "${TLS[@]}" --tls-version tlsv1.0 -t "$T" -m x
}

@test "tls_version in the entry; --ciphers takes TLS 1.3 suites, an unknown list is a usage error" {
  tls_broker
  write_config "$XDG_CONFIG_HOME/dtbus/brokers.yaml" <<EOF
brokers:
  t:
    type: mqtt
    config:
      host: localhost
      port: $BROKER_TLS12_PORT
      use_tls: true
      ca_certs: $BROKER_TLS12_CAFILE
      certfile: $BROKER_TLS12_CLIENT_CERT
      keyfile: $BROKER_TLS12_CLIENT_KEY
      tls_version: tlsv1.2
default_broker: t
EOF
  run -4 --separate-stderr dtbus pub -t "$T" -m x
  [[ $stderr == *"TLS handshake"*"failed"* ]]
  run -0 --separate-stderr dtbus pub --tls-version tlsv1.3 --ciphers TLS_AES_128_GCM_SHA256 -t "$T" -m x
  run -2 --separate-stderr dtbus pub --ciphers NO-SUCH-CIPHER -t "$T" -m x
  [[ $stderr == *"--ciphers NO-SUCH-CIPHER: no cipher OpenSSL knows"* ]]
  run -0 --separate-stderr dtbus pub --alpn mqtt --tls-version tlsv1.3 -t "$T" -m x
}

@test "--key-password-file opens an encrypted client key; without it: exit 3, no prompt" {
  tls_broker
  local pass=kp$SRANDOM$SRANDOM
  audit_secret KEY_PASSPHRASE "$pass"
  printf '%s\n' "$pass" >keypass
  openssl pkey -in "$BROKER_TLS12_CLIENT_KEY" -aes256 -passout "pass:$pass" -out enc.key
  audit_allow keypass enc.key
  run -0 --separate-stderr dtbus pub "${TLS[@]}" --cert "$BROKER_TLS12_CLIENT_CERT" --key enc.key --key-password-file keypass -t "$T" -m x -v
  run -3 --separate-stderr run_with_timeout 20 dtbus pub "${TLS[@]}" --cert "$BROKER_TLS12_CLIENT_CERT" --key enc.key -t "$T" -m x </dev/null
  [[ $stderr == *"an encrypted key needs --key-password-file"* ]]
  printf 'wrong\n' >badpass
  run -3 --separate-stderr dtbus pub "${TLS[@]}" --cert "$BROKER_TLS12_CLIENT_CERT" --key enc.key --key-password-file badpass -t "$T" -m x
  [[ $stderr == *"cannot use the client key"* ]]
}

@test "-V 31 speaks MQTT 3.1 (p1 in the broker's log), with a client id 3.1 accepts" {
  config main "$P"
  bg_start S mosquitto_sub -h 127.0.0.1 -p "$P" -t "$T" -C 1 -W 20
  broker_wait_subscribed main "$T"
  run -0 --separate-stderr dtbus pub -V 31 -t "$T" -m "three one" -q 1
  run -0 bg_wait S 20
  run cat "$S_OUT"
  assert_output "three one"
  run grep -E "New client connected .* as dtbus-pub-[^ ]{1,13} \(p1," "$BROKER_MAIN_LOG"
  assert_success
}

@test "ws:// and wss:// URLs are refused (exit 2) naming the reason, the password part hidden" {
  run -2 --separate-stderr dtbus pub --url ws://127.0.0.1:9001 -t "$T" -m x
  [[ $stderr == *"--url ws://127.0.0.1:9001: MQTT over WebSockets is not supported: libmosquitto 2.0.11"*"no client-side WebSocket transport"* ]]
  run -2 --separate-stderr dtbus sub --url "wss://bob:hunter2@broker.example/mqtt" -t "$T"
  [[ $stderr == *"--url wss://***@broker.example/mqtt: MQTT over WebSockets is not supported"* ]]
  [[ $stderr != *hunter2* ]]
}

@test "sub: -q once per filter pairs them in order; another number of -q is a usage error" {
  config main "$P"
  bg_start S dtbus sub -t "$T/a/#" -q 1 -t "$T/b" -q 0 -C 2 -W 20 -o json
  broker_wait_subscribed main "$T/b"
  mosquitto_pub -h 127.0.0.1 -p "$P" -t "$T/a/x" -m one -q 1
  mosquitto_pub -h 127.0.0.1 -p "$P" -t "$T/b" -m two -q 1
  run -0 bg_wait S 20
  run python3 -c 'import json,sys
for line in open(sys.argv[1]):
    r = json.loads(line); print(r["topic"], r["qos"])' "$S_OUT"
  assert_output "$T/a/x 1
$T/b 0"
  run -2 --separate-stderr dtbus sub -t a -t b -t c -q 1 -q 0 -W 1
  [[ $stderr == *"-q given 2 times for 3 filters"* ]]
}

@test "--retry after connect timeouts (a hung broker): each attempt times out, then exit 4" {
  broker_start hung
  config hung "$BROKER_HUNG_PORT"
  broker_pause hung
  run -4 --separate-stderr run_with_timeout 30 dtbus pub --retry 1 --connect-timeout 1 -t "$T" -m x
  broker_resume hung
  [[ $stderr == *"timed out after 1 s connecting to hung"*"attempt 1 failed, retrying in"* ]]
  [[ $stderr == *"error: timed out after 1 s connecting to hung"*"(gave up after 2 attempts in "* ]]
}
