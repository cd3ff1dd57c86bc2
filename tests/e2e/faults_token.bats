#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Fault injection: the OAuth2 token endpoint fails while a long `dtbus sub --session` renews its
# token (HTTP 500, answers slower than the provider's timeout, malformed JSON, endpoint down).
# The sub keeps the connection it has while a renewal fails, logs each failure on stderr and
# retries; when the broker restarts meanwhile, the reconnect waits for a token (retried, logged)
# and the broker queues the messages for the durable session. Messages flow all along (a dtbus
# pub with static credentials); each test states what was lost: nothing. The client secret and
# the token never appear in any output. A sub that cannot get its first token exits with the
# documented code instead.

load helpers/common
load faults_common

SECRET='F4ult:S3cret +/%-never-print'
FIXED='fixed.fault-tok3n-for-mosquitto'

setup() {
  dtbus_isolate_env
  T=ft$BATS_TEST_NUMBER
}

teardown() { cleanup_all; }

# A mosquitto that only accepts user jwt with the fixed token, and a provider issuing it with a
# 3 s lifetime: with token_refresh_margin 1 the sub renews its connection every ~2 s. Broker
# `feeder` is the same mosquitto with static credentials, for the publisher.
start_token_services() {
  token_server_start --client-secret "$SECRET" --fixed-token "$FIXED" --lifetime 3
  local pw=$BATS_TEST_TMPDIR/jwt.passwd
  mosquitto_passwd -b -c "$pw" jwt "$FIXED" >/dev/null
  broker_start tok --extra "allow_anonymous false" --extra "password_file $pw"
  write_config "$XDG_CONFIG_HOME/dtbus/brokers.yaml" <<EOF
brokers:
  tok:
    type: mqtt
    config:
      host: 127.0.0.1
      port: $BROKER_TOK_PORT
      token_refresh_margin: 1
      reconnect_interval: 0.2
    token_provider: kc
  feeder:
    type: mqtt
    config:
      host: 127.0.0.1
      port: $BROKER_TOK_PORT
      username: jwt
      password: "\${FEEDER_PASSWORD}"
      reconnect_interval: 0.2
token_providers:
  kc:
    type: oidc_client_credentials
    base_url: "$TOKEN_SERVER_ISSUER"
    client_id: dtbus
    client_secret: "\${KC_SECRET}"
    timeout: 1
default_broker: tok
EOF
  export KC_SECRET=$SECRET FEEDER_PASSWORD=$FIXED
}

# A sub --session on $T/m with -v (renewals are logged), subscribed.
start_sub() {
  bg_start S dtbus sub --session "$T-s" -t "$T/m" -q 1 -F '{payload}' -v
  broker_wait_subscribed tok "$T/m"
}

# feed N — in the background, QoS 1 messages 1..N on $T/m, 100 per second, by a dtbus pub with
# static credentials (it reconnects and resends across broker restarts); in.txt gets them.
feed() {
  seq 1 "$1" >in.txt
  bg_start FEED bash -c "\"\$DTBUS_PYTHON\" -c 'import sys, time
for line in open(\"in.txt\"):
    sys.stdout.write(line); sys.stdout.flush(); time.sleep(0.01)' | exec dtbus pub -b feeder -t $T/m -l -q 1"
}

# No output or log holds the secret or the token (the token cache holds the token by design).
refute_secrets() {
  local hits
  hits=$(grep -rlF -e "$SECRET" -e "$FIXED" "$S_OUT" "$S_ERR" "$FEED_ERR" "$XDG_CACHE_HOME" "$XDG_STATE_HOME" 2>/dev/null |
    grep -v '/dtbus/tokens/') || true
  [[ -z $hits ]] || fail "secret or token found in: $hits"
}

# finish_feed LABEL — the feed is done and acknowledged; every message printed? States the loss.
finish_feed() {
  run -0 bg_wait FEED 60
  wait_until 30 all_delivered in.txt "$S_OUT" || true # else account names what is missing
  bg_stop S INT
  account in.txt --got "$S_OUT" --label "$1"
  refute_secrets
}

# fault_cycle MODE [DELAY] — while messages flow to a long sub --session, the token endpoint
# turns MODE: the renewal fails and the sub keeps its connection; then the broker restarts, so the
# reconnect needs a token the endpoint cannot give (the broker queues the messages for the
# session); then the endpoint recovers. Every message must be printed.
fault_cycle() {
  local mode=$1 delay=${2:-} printed
  start_token_services
  start_sub
  feed 600 # 6 s
  wait_until 10 at_least 20 lines_matching "$S_OUT" .
  token_server_mode "$mode" $delay
  wait_for_line "$S_ERR" "cannot refresh credentials: .*; keeping the current connection, retrying in" 10
  printed=$(lines_matching "$S_OUT" .)
  wait_until 5 at_least $((printed + 10)) lines_matching "$S_OUT" . # still connected: flowing
  broker_restart tok
  wait_for_line "$S_ERR" "cannot refresh credentials: .*; retrying in [0-9.]+ s$" 10
  token_server_mode ok
  finish_feed "sub --session, token endpoint $mode${delay:+ ${delay}s} across a broker restart"
  grep -q "reconnected to" "$S_ERR"
}

@test "token endpoint answers HTTP 500: sub keeps its connection, retries with a log line, nothing lost" {
  fault_cycle 500
  grep -q "cannot refresh credentials: .*server error (HTTP 500)" "$S_ERR" || fail "$(cat "$S_ERR")"
}

@test "token endpoint slower than the provider timeout: sub logs a timeout, retries, nothing lost" {
  fault_cycle slow 3
  grep -q "cannot refresh credentials: .*timeout" "$S_ERR" || fail "$(cat "$S_ERR")"
}

@test "token endpoint answers malformed JSON: sub logs it, retries, nothing lost" {
  fault_cycle malformed
  grep -q "cannot refresh credentials: .*not a JSON object" "$S_ERR" || fail "$(cat "$S_ERR")"
}

@test "token endpoint slow but within the timeout: renewals just take longer, nothing lost" {
  local renewals
  start_token_services
  start_sub
  token_server_mode slow 0.6
  renewals=$(lines_matching "$S_ERR" "reconnected to")
  feed 500 # 5 s: two renewals or more
  wait_until 10 at_least $((renewals + 2)) lines_matching "$S_ERR" "reconnected to"
  finish_feed "sub --session, token endpoint answering in 0.6 s"
  ! grep -q "cannot refresh credentials" "$S_ERR" || fail "$(cat "$S_ERR")"
}

@test "token endpoint down (stopped, then back on the same port) across a broker restart: nothing lost" {
  local port
  start_token_services
  start_sub
  feed 600 # 6 s
  wait_until 10 at_least 20 lines_matching "$S_OUT" .
  port=$TOKEN_SERVER_PORT
  token_server_stop
  wait_for_line "$S_ERR" "cannot refresh credentials: token provider 'kc'.*; keeping the current connection" 10
  broker_restart tok
  wait_for_line "$S_ERR" "cannot refresh credentials: token provider 'kc'.*; retrying in" 10
  token_server_start --port "$port" --client-secret "$SECRET" --fixed-token "$FIXED" --lifetime 3
  finish_feed "sub --session, token endpoint down across a broker restart"
}

@test "sub cannot get its first token: exit 4 (HTTP 500, timeout) or 1 (malformed), one line, no secret" {
  local mode want
  start_token_services
  for mode in 500 slow malformed; do
    case $mode in 500 | slow) want=4 ;; malformed) want=1 ;; esac
    token_server_mode "$mode" 3
    rm -rf "$XDG_CACHE_HOME/dtbus/tokens"
    run --separate-stderr dtbus sub --session "$T-s" -t "$T/m" -q 1 -W 5 -vvv
    assert_equal "$status" "$want"
    [[ $(grep -c "error:" <<<"$stderr") == 1 ]] || fail "$stderr"
    [[ $stderr == *"dtbus sub: error: "*"token provider 'kc'"* ]] || fail "$stderr"
    [[ $stderr != *"$SECRET"* && $output != *"$SECRET"* ]]
  done
}
