#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Connection options against real mosquitto brokers: first-connect retries (--retry, --retry-for,
# connect_retries), will messages (--will-*, will: in the entry), TLS options, SOCKS5 --proxy
# (tests/fixtures/socks5_proxy.py), TLS-PSK, --session-expiry, pub --topic-alias.

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

# proxy_start [--user U --password-file F] — the SOCKS5 fixture on a free port; PROXY_PORT, and
# PROXY_LOG with its CONNECT lines.
proxy_start() {
  PROXY_LOG=$BATS_TEST_TMPDIR/proxy.log
  : >"$PROXY_LOG"
  bg_start PROXY "$DTBUS_PYTHON" -u "$DTBUS_FIXTURES_DIR/socks5_proxy.py" --log "$PROXY_LOG" "$@"
  wait_for_line "$PROXY_OUT" '^READY [0-9]+$' 10
  PROXY_PORT=$(sed -n 's/^READY //p' "$PROXY_OUT")
}

@test "--proxy: a message goes through the SOCKS5 proxy, which is asked for the broker by name" {
  proxy_start
  bg_start S mosquitto_sub -h 127.0.0.1 -p "$P" -t "$T" -C 2 -W 20
  broker_wait_subscribed main "$T"
  run -0 --separate-stderr dtbus pub -H localhost -p "$P" --proxy "socks5h://127.0.0.1:$PROXY_PORT" -t "$T" -m one -q 1
  # socks5:// too: libmosquitto hands the name to the proxy either way (documented)
  run -0 --separate-stderr dtbus pub -H localhost -p "$P" --proxy "socks5://127.0.0.1:$PROXY_PORT" -t "$T" -m two
  run -0 bg_wait S 20
  run cat "$S_OUT"
  assert_output "one
two"
  run cat "$PROXY_LOG"
  assert_output "CONNECT domain localhost $P
REPLY 0
CONNECT domain localhost $P
REPLY 0"
}

@test "proxy: in the entry with a login from the environment; a wrong login is exit 4, the password never shown" {
  local pw=px$SRANDOM$SRANDOM
  audit_secret PROXY_PASSWORD "$pw"
  printf '%s\n' "$pw" >proxy.pass
  audit_allow proxy.pass
  proxy_start --user bob --password-file proxy.pass
  config main "$P" "      proxy: \"socks5h://bob:\${PROXY_PASSWORD}@127.0.0.1:$PROXY_PORT\""
  audit_allow "$XDG_CONFIG_HOME/dtbus/brokers.yaml"
  bg_start S mosquitto_sub -h 127.0.0.1 -p "$P" -t "$T" -C 1 -W 20
  broker_wait_subscribed main "$T"
  PROXY_PASSWORD=$pw run -0 --separate-stderr dtbus pub -vv -t "$T" -m through -q 1
  [[ $stderr == *"via SOCKS5 proxy socks5h://bob:***@127.0.0.1:$PROXY_PORT"* ]]
  run -0 bg_wait S 20
  run cat "$S_OUT"
  assert_output through
  run grep -c "^CONNECT ipv4 127.0.0.1 $P\$" "$PROXY_LOG"
  assert_output 1
  PROXY_PASSWORD=$pw run -0 --separate-stderr dtbus config show -o json
  jq -e --arg url "socks5h://bob:***@127.0.0.1:$PROXY_PORT" '.brokers.main.config.proxy == $url' <<<"$output"
  # wrong password, no login at all, a user without a password: refused by the proxy, exit 4
  PROXY_PASSWORD=wrong run -4 --separate-stderr dtbus pub -t "$T" -m x
  [[ $stderr == "dtbus pub: error: SOCKS5 proxy socks5h://bob:***@127.0.0.1:$PROXY_PORT refused the login of user 'bob' (wrong proxy user or password?)"* ]]
  run -4 --separate-stderr dtbus pub -H 127.0.0.1 -p "$P" --proxy "socks5h://127.0.0.1:$PROXY_PORT" -t "$T" -m x
  [[ $stderr == *"refused: it wants a login we did not offer"* ]]
  run -4 --separate-stderr dtbus pub -H 127.0.0.1 -p "$P" --proxy "socks5h://bob@127.0.0.1:$PROXY_PORT" -t "$T" -m x
  run grep -c '^AUTH refused bob$' "$PROXY_LOG"
  assert_output 2
  # the --proxy flag overrides the entry's; its password is not shown either
  run -4 --separate-stderr dtbus pub --proxy "socks5h://bob:$pw-not@127.0.0.1:$PROXY_PORT" -t "$T" -m x
  [[ $stderr == *"socks5h://bob:***@127.0.0.1:$PROXY_PORT refused the login"* ]]
}

@test "--proxy: a dead proxy port is exit 4; a bad URL is exit 2 in one line; a durable MQTT 5 session is refused" {
  local dead
  dead=$(free_port)
  run -4 --separate-stderr dtbus pub -H 127.0.0.1 -p "$P" --proxy "socks5h://u:hidden1@127.0.0.1:$dead" -t "$T" -m x
  [[ $stderr == "dtbus pub: error: cannot connect to SOCKS5 proxy socks5h://u:***@127.0.0.1:$dead (on the way to 127.0.0.1:$P): Connection refused" ]]
  run -2 --separate-stderr dtbus pub -H 127.0.0.1 -p "$P" --proxy "http://u:hidden2@127.0.0.1:3128" -t "$T" -m x
  [[ $stderr == "dtbus pub: error: --proxy: unsupported proxy scheme 'http': only SOCKS5 proxies"* ]]
  [[ $stderr != *hidden2* && $(wc -l <<<"$stderr") == 1 ]]
  run -2 --separate-stderr dtbus pub -H 127.0.0.1 -p "$P" --proxy "socks5h://u:hidden3@127.0.0.1:99999" -t "$T" -m x
  [[ $stderr == "dtbus pub: error: --proxy: proxy port must be 1..65535" ]]
  config main "$P" "      proxy: \"socks5h://u:hidden4@\""
  run -3 --separate-stderr dtbus pub -t "$T" -m x
  [[ $stderr == *"brokers.main.config.proxy: missing proxy host"* && $stderr != *hidden4* ]]
  rm "$XDG_CONFIG_HOME/dtbus/brokers.yaml"
  proxy_start
  run -2 --separate-stderr dtbus sub -H 127.0.0.1 -p "$P" --proxy "socks5h://127.0.0.1:$PROXY_PORT" --session "$T-s" -t "$T" -W 1
  [[ $stderr == *"a durable MQTT 5 session cannot go through a SOCKS5 proxy"*"use -V 311"* ]]
  # 3.1.1 keeps the session through the proxy
  run -6 dtbus sub -V 311 -H 127.0.0.1 -p "$P" --proxy "socks5h://127.0.0.1:$PROXY_PORT" --session "$T-s" -t "$T" -q 1 -W 0.5
  mosquitto_pub -h 127.0.0.1 -p "$P" -t "$T" -m kept -q 1
  run -0 --separate-stderr dtbus sub -V 311 -H 127.0.0.1 -p "$P" --proxy "socks5h://127.0.0.1:$PROXY_PORT" --session "$T-s" -t "$T" -q 1 -C 1 -W 10 -o raw
  assert_output kept
}

@test "--proxy with TLS: the handshake goes through the proxy and the certificate is still verified" {
  tls_broker
  proxy_start
  run -0 --separate-stderr dtbus pub "${TLS[@]}" "${CERT[@]}" --proxy "socks5h://127.0.0.1:$PROXY_PORT" -t "$T" -m x -q 1
  # a CA that did not sign the broker's certificate: refused after the proxy connected us
  run -4 --separate-stderr dtbus pub -H localhost -p "$BROKER_TLS12_PORT" --cafile "$BROKER_TLS12_OTHER_CAFILE" "${CERT[@]}" \
    --proxy "socks5h://127.0.0.1:$PROXY_PORT" -t "$T" -m x
  [[ $stderr == *"TLS handshake with localhost:$BROKER_TLS12_PORT via SOCKS5 proxy socks5h://127.0.0.1:$PROXY_PORT failed"* ]]
  run grep -c "^CONNECT domain localhost $BROKER_TLS12_PORT\$" "$PROXY_LOG"
  assert_output 2
}

# psk_broker — a TLS-PSK listener (psk_hint, psk_file) with identity dev1 and a fresh key in PSK.
psk_broker() {
  PSK=$(printf '%08x%08x%08x%08x' "$SRANDOM" "$SRANDOM" "$SRANDOM" "$SRANDOM")
  audit_secret PSK "$PSK"
  printf 'dev1:%s\n' "$PSK" >"$BATS_TEST_TMPDIR/psk_file"
  audit_allow "$BATS_TEST_TMPDIR/psk_file"
  broker_start psk --extra "psk_hint dtbus-test" --extra "psk_file $BATS_TEST_TMPDIR/psk_file"
}

# The PSK with its last hex digit changed.
wrong_psk() { if [[ $PSK == *0 ]]; then echo "${PSK%?}1"; else echo "${PSK%?}0"; fi; }

@test "--psk/--psk-identity: pub/sub round trip over TLS-PSK; a wrong key is exit 4 (TLS handshake)" {
  psk_broker
  local PK=$BROKER_PSK_PORT
  bg_start S dtbus -vv sub -H 127.0.0.1 -p "$PK" --psk "$PSK" --psk-identity dev1 -t "$T" -C 1 -W 20 -o raw
  dtbus_wait_subscribed "$S_ERR" "$T"
  run -0 --separate-stderr dtbus pub -H 127.0.0.1 -p "$PK" --psk "$PSK" --psk-identity dev1 -t "$T" -m secret-channel -q 1
  run -0 bg_wait S 20
  run cat "$S_OUT"
  assert_output secret-channel
  # plain MQTT is not accepted there: the listener speaks TLS only
  run -4 --separate-stderr run_with_timeout 20 dtbus pub -H 127.0.0.1 -p "$PK" --connect-timeout 3 -t "$T" -m x
  run -4 --separate-stderr dtbus pub -H 127.0.0.1 -p "$PK" --psk "$(wrong_psk)" --psk-identity dev1 -t "$T" -m x
  [[ $stderr == "dtbus pub: error: TLS handshake with 127.0.0.1:$PK failed: "*"(TLS-PSK identity 'dev1': a wrong key or unknown identity fails here)" ]]
  [[ $stderr != *"$(wrong_psk)"* ]]
  run -4 --separate-stderr dtbus pub -H 127.0.0.1 -p "$PK" --psk "$PSK" --psk-identity nobody -t "$T" -m x
}

@test "psk: in the entry from the environment, masked by config show; bad keys are errors naming the field" {
  psk_broker
  config main "$BROKER_PSK_PORT" "      psk: \"\${MQTT_PSK}\"
      psk_identity: dev1"
  MQTT_PSK=$PSK run -0 --separate-stderr dtbus pub -t "$T" -m x
  MQTT_PSK=$PSK run -0 --separate-stderr dtbus config show -o json
  jq -e '.brokers.main.config.psk == "***" and .brokers.main.config.psk_identity == "dev1"' <<<"$output"
  MQTT_PSK=not-hex run -3 dtbus config test
  assert_output --partial "brokers.main.config.psk: expected the key as hex digits (0-9, a-f) only (the value is not shown)"
  refute_output --partial not-hex
  # unset: a psk_identity without a psk
  run -3 --separate-stderr dtbus pub -t "$T" -m x
  [[ $stderr == *"brokers.main.config.psk_identity: a psk_identity needs a psk"* ]]
  rm "$XDG_CONFIG_HOME/dtbus/brokers.yaml"
  run -2 --separate-stderr dtbus pub -H 127.0.0.1 -p "$BROKER_PSK_PORT" --psk 12zz --psk-identity dev1 -t "$T" -m x
  [[ $stderr == "dtbus pub: error: --psk: expected the key as hex digits (0-9, a-f) only (the value is not shown)" ]]
  run -2 --separate-stderr dtbus pub -H 127.0.0.1 -p "$BROKER_PSK_PORT" --psk "$PSK" -t "$T" -m x
  [[ $stderr == *"--psk needs --psk-identity"* ]]
  run -2 --separate-stderr dtbus pub -H 127.0.0.1 -p "$BROKER_PSK_PORT" --psk "$PSK" --psk-identity dev1 --cafile /etc/hosts -t "$T" -m x
  [[ $stderr == *"--psk replaces certificates"* ]]
}

@test "--session-expiry 1s: the broker expires the sub --session and drops its queue; 1h keeps it" {
  bg_start SHORT dtbus sub -H 127.0.0.1 -p "$P" --session "$T-short" --session-expiry 1s -t "$T" -q 1 -C 1 -W 20
  bg_start LONG dtbus sub -H 127.0.0.1 -p "$P" --session "$T-long" --session-expiry 1h -t "$T" -q 1 -C 1 -W 20
  broker_wait_subscribed main "$T" 2
  mosquitto_pub -h 127.0.0.1 -p "$P" -t "$T" -m hello -q 1
  run -0 bg_wait SHORT 20
  run -0 bg_wait LONG 20
  # Both gone; the broker says when it has expired the short one (it checks once a second).
  wait_for_line "$BROKER_MAIN_LOG" "Expiring client $T-short due to timeout" 20
  mosquitto_pub -h 127.0.0.1 -p "$P" -t "$T" -m queued -q 1
  run -0 --separate-stderr dtbus sub -H 127.0.0.1 -p "$P" --session "$T-long" --session-expiry 1h -t "$T" -q 1 -C 1 -W 10 -o raw
  assert_output queued
  # the short session was expired before "queued" was published: nothing waits for it
  run -6 --separate-stderr dtbus sub -H 127.0.0.1 -p "$P" --session "$T-short" --session-expiry 1s -t "$T" -q 1 -C 1 -W 2 -o raw
  assert_output ""
  run grep -c "Expiring client $T-long" "$BROKER_MAIN_LOG"
  assert_output 0
}

@test "--session-expiry: bad durations and -V 311 are usage errors" {
  run -2 --separate-stderr dtbus sub -H 127.0.0.1 -p "$P" --session-expiry soon -t "$T" -W 1
  [[ $stderr == *"--session-expiry soon: expected a duration such as 30s, 2m, 1h or 7d"* ]]
  run -2 --separate-stderr dtbus sub -V 311 -H 127.0.0.1 -p "$P" --session "$T" --session-expiry 1h -t "$T" -W 1
  [[ $stderr == *"--session-expiry needs MQTT 5"* ]]
  run -6 --separate-stderr dtbus sub -H 127.0.0.1 -p "$P" --session "$T" --session-expiry never -t "$T" -W 0.5
  run -6 --separate-stderr dtbus sub -H 127.0.0.1 -p "$P" --session "$T" --session-expiry 0 -t "$T" -W 0.5
}

@test "pub --topic-alias: after the first message only the alias is sent; every message arrives with its topic" {
  bg_start S mosquitto_sub -h 127.0.0.1 -p "$P" -t "$T/#" -C 5 -W 20 -v
  broker_wait_subscribed main "$T/#"
  run -0 --separate-stderr dtbus pub -vvv -H 127.0.0.1 -p "$P" -t "$T/a" -l --topic-alias <<<$'1\n2\n3'
  # libmosquitto's own trace of each PUBLISH: the topic, then none (the alias alone)
  run grep -c "sending PUBLISH (d0, q0, r0, m[0-9]*, '$T/a'" <<<"$stderr"
  assert_output 1
  run grep -c "sending PUBLISH (d0, q0, r0, m[0-9]*, '(null)'" <<<"$stderr"
  assert_output 2
  # QoS 1: the topic every time, with one warning
  run -0 --separate-stderr dtbus pub -H 127.0.0.1 -p "$P" -t "$T/b" -l -q 1 --topic-alias <<<$'4\n5'
  [[ $stderr == "dtbus pub: warning: --topic-alias: QoS 1/2 messages carry their topic"* ]]
  run -0 bg_wait S 20
  run cat "$S_OUT"
  assert_output "$T/a 1
$T/a 2
$T/a 3
$T/b 4
$T/b 5"
}

@test "pub --topic-alias against a broker with max_topic_alias 0: one warning, every message arrives" {
  broker_start noalias --extra "max_topic_alias 0"
  local PN=$BROKER_NOALIAS_PORT
  bg_start S mosquitto_sub -h 127.0.0.1 -p "$PN" -t "$T" -C 3 -W 20
  broker_wait_subscribed noalias "$T"
  run -0 --separate-stderr dtbus pub -vvv -H 127.0.0.1 -p "$PN" -t "$T" -l --topic-alias <<<$'1\n2\n3'
  run grep -c "warning: --topic-alias: broker 127.0.0.1:$PN allows no topic aliases" <<<"$stderr"
  assert_output 1
  run grep -c "'(null)'" <<<"$stderr"
  assert_output 0
  run -0 bg_wait S 20
  run cat "$S_OUT"
  assert_output $'1\n2\n3'
}
