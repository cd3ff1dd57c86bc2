#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Self-test of helpers/common.bash and fixtures/token_server.py, with the mosquitto clients only.
# bats file_tags=harness,broker

load helpers/common

setup_file() {
  dtbus_isolate_env
  broker_start plain
  token_server_start --client-id dtbus --client-secret 's3cr:t +/%' --lifetime 120
}

teardown_file() {
  cleanup_all
}

setup() {
  dtbus_isolate_env
}

teardown() {
  cleanup_all
}

@test "broker: free port (not 1883), own dir and config, pub/sub round trip" {
  [[ $BROKER_PLAIN_PORT =~ ^[0-9]+$ && $BROKER_PLAIN_PORT != 1883 ]]
  [[ $BROKER_PORT == "$BROKER_PLAIN_PORT" ]]
  [[ $BROKER_PLAIN_DIR == "$BATS_FILE_TMPDIR/broker-plain" ]]
  run -0 grep -x "listener $BROKER_PLAIN_PORT 127.0.0.1" "$BROKER_PLAIN_CONF"
  run -0 grep -x "allow_anonymous true" "$BROKER_PLAIN_CONF"
  pid_alive "$BROKER_PLAIN_PID"

  bg_start SUB mosquitto_sub -h 127.0.0.1 -p "$BROKER_PLAIN_PORT" -t 'e2e/rt/+' -q 1 -C 1 -W 10
  broker_wait_subscribed plain 'e2e/rt/+'
  run -0 mosquitto_pub -h 127.0.0.1 -p "$BROKER_PLAIN_PORT" -t e2e/rt/1 -q 1 -m "hello $BATS_TEST_NUMBER"
  bg_wait SUB 10
  run -0 cat "$SUB_OUT"
  assert_output "hello $BATS_TEST_NUMBER"
}

@test "broker: two brokers get distinct ports and dirs; a test-scoped broker lives in the test dir" {
  broker_start second
  [[ $BROKER_SECOND_PORT != "$BROKER_PLAIN_PORT" && $BROKER_SECOND_PORT != 1883 ]]
  [[ $BROKER_SECOND_DIR == "$BATS_TEST_TMPDIR/broker-second" ]]
  [[ $BROKER_PORT == "$BROKER_PLAIN_PORT" ]] # the first broker keeps BROKER_PORT
  run -0 mosquitto_pub -h 127.0.0.1 -p "$BROKER_SECOND_PORT" -t x -m y
  run -1 --separate-stderr broker_start second
  [[ $stderr == *"already running"* ]]
}

@test "broker --password: wrong password refused, right one accepted" {
  broker_start auth --password
  [[ $BROKER_AUTH_USER == alice && ${#BROKER_AUTH_PASSWORD} -ge 12 ]]
  run -0 grep -x "allow_anonymous false" "$BROKER_AUTH_CONF"
  local p=(-h 127.0.0.1 -p "$BROKER_AUTH_PORT" -t e2e/auth -m x)
  run ! mosquitto_pub "${p[@]}" -u alice -P "wrong-$BROKER_AUTH_PASSWORD"
  assert_output --partial "not authorised"
  run ! mosquitto_pub "${p[@]}"
  run -0 mosquitto_pub "${p[@]}" -u alice -P "$BROKER_AUTH_PASSWORD"
}

@test "broker --tls: trusted CA accepted (localhost and 127.0.0.1), other CA refused" {
  broker_start secure --tls
  [[ -f $BROKER_SECURE_CAFILE && -f $BROKER_SECURE_OTHER_CAFILE ]]
  run -0 openssl x509 -in "$BROKER_SECURE_CERTDIR/server.crt" -noout -ext subjectAltName
  assert_output --partial "DNS:localhost"
  assert_output --partial "IP Address:127.0.0.1"
  run -0 openssl verify -CAfile "$BROKER_SECURE_CAFILE" "$BROKER_SECURE_CERTDIR/server.crt" \
    "$BROKER_SECURE_CLIENT_CERT"
  run ! openssl verify -CAfile "$BROKER_SECURE_OTHER_CAFILE" "$BROKER_SECURE_CERTDIR/server.crt"

  local p=(-p "$BROKER_SECURE_PORT" -t e2e/tls -m x)
  run -0 mosquitto_pub -h localhost "${p[@]}" --cafile "$BROKER_SECURE_CAFILE"
  run -0 mosquitto_pub -h 127.0.0.1 "${p[@]}" --cafile "$BROKER_SECURE_CAFILE"
  run ! mosquitto_pub -h localhost "${p[@]}" --cafile "$BROKER_SECURE_OTHER_CAFILE"
  run ! mosquitto_pub -h 127.0.0.1 "${p[@]}" # plain MQTT on a TLS listener
}

@test "broker --require-cert: client certificate required" {
  broker_start mtls --require-cert
  local p=(-h localhost -p "$BROKER_MTLS_PORT" -t e2e/mtls -m x --cafile "$BROKER_MTLS_CAFILE")
  run ! mosquitto_pub "${p[@]}"
  run -0 mosquitto_pub "${p[@]}" --cert "$BROKER_MTLS_CLIENT_CERT" --key "$BROKER_MTLS_CLIENT_KEY"
  run ! mosquitto_pub "${p[@]}" --cert "$BROKER_MTLS_CERTDIR/other-client.crt" \
    --key "$BROKER_MTLS_CERTDIR/other-client.key"
}

@test "tls_make_certs is idempotent" {
  tls_make_certs "$BATS_TEST_TMPDIR/c"
  local before
  before=$(cat "$BATS_TEST_TMPDIR/c/ca.crt")
  tls_make_certs "$BATS_TEST_TMPDIR/c"
  [[ $(cat "$BATS_TEST_TMPDIR/c/ca.crt") == "$before" ]]
}

@test "broker_restart: same port, new pid, durable session keeps its queued QoS1 message" {
  broker_start durable --extra 'autosave_interval 3600'
  run -0 grep -x "autosave_interval 3600" "$BROKER_DURABLE_CONF"
  local port=$BROKER_DURABLE_PORT pid=$BROKER_DURABLE_PID
  local h=(-h 127.0.0.1 -p "$BROKER_DURABLE_PORT")
  run -0 mosquitto_sub "${h[@]}" -c -i keeper -q 1 -t e2e/durable -E
  run -0 mosquitto_pub "${h[@]}" -q 1 -t e2e/durable -m "queued while away"

  broker_restart durable
  [[ $BROKER_DURABLE_PORT == "$port" && $BROKER_DURABLE_PID != "$pid" ]]
  run ! pid_alive "$pid"
  run -0 mosquitto_sub "${h[@]}" -c -i keeper -q 1 -t e2e/durable -C 1 -W 5
  assert_output "queued while away"
}

@test "broker_pause/broker_resume: a paused broker does not answer, a resumed one does" {
  broker_start sleepy
  broker_pause sleepy
  run -124 run_with_timeout 0.5 mosquitto_pub -h 127.0.0.1 -p "$BROKER_SLEEPY_PORT" -t t -m x
  broker_resume sleepy
  run -0 run_with_timeout 5 mosquitto_pub -h 127.0.0.1 -p "$BROKER_SLEEPY_PORT" -t t -m x
}

@test "broker_stop stops a paused broker; broker_log shows the log" {
  broker_start gone
  local pid=$BROKER_GONE_PID
  run -0 broker_log gone
  assert_output --partial "running"
  broker_pause gone
  broker_stop gone
  run ! pid_alive "$pid"
  run ! mosquitto_pub -h 127.0.0.1 -p "$BROKER_GONE_PORT" -t t -m x
}

@test "token server: discovery document" {
  run -0 http_request GET "$TOKEN_SERVER_DISCOVERY_URL"
  assert_line --index 0 200
  local doc=${lines[1]}
  run -0 "$DTBUS_PYTHON" -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["issuer"]); print(d["token_endpoint"]); print(" ".join(d["token_endpoint_auth_methods_supported"]))' "$doc"
  assert_line --index 0 "$TOKEN_SERVER_URL/realms/test"
  assert_line --index 1 "$TOKEN_SERVER_TOKEN_URL"
  assert_line --index 2 "client_secret_basic client_secret_post"
  [[ $TOKEN_SERVER_ISSUER == "$TOKEN_SERVER_URL/realms/test" ]]
}

# The JWT's claims, as "key=value" lines.
jwt_claims() {
  "$DTBUS_PYTHON" -c '
import base64, json, sys
tok = json.loads(sys.argv[1])["access_token"]
h, c, s = tok.split(".")
pad = lambda x: x + "=" * (-len(x) % 4)
assert json.loads(base64.urlsafe_b64decode(pad(h)))["alg"] == "HS256"
for k, v in sorted(json.loads(base64.urlsafe_b64decode(pad(c))).items()):
    print("%s=%s" % (k, v))
' "$1"
}

@test "token server: client_secret_basic (form-urlencoded credentials) issues a JWT" {
  run -0 http_request -u "dtbus:$TOKEN_SERVER_CLIENT_SECRET" POST "$TOKEN_SERVER_TOKEN_URL" \
    grant_type=client_credentials scope=mqtt audience=broker
  assert_line --index 0 200
  local body=${lines[1]}
  [[ $body == *'"token_type": "Bearer"'* && $body == *'"expires_in": 120'* ]]
  [[ $body == *'"scope": "mqtt"'* ]]
  run -0 jwt_claims "$body"
  assert_line "iss=$TOKEN_SERVER_ISSUER"
  assert_line aud=broker
  assert_line azp=dtbus
  assert_line scope=mqtt
  assert_line --regexp '^jti=[0-9a-f-]{36}$'
  run -0 token_server_stats last_auth_method
  assert_output client_secret_basic
}

@test "token server: client_secret_post issues a token; jti differs per issue" {
  local form=(grant_type=client_credentials client_id=dtbus "client_secret=$TOKEN_SERVER_CLIENT_SECRET")
  run -0 http_request POST "$TOKEN_SERVER_TOKEN_URL" "${form[@]}"
  assert_line --index 0 200
  local first=${lines[1]}
  run -0 http_request POST "$TOKEN_SERVER_TOKEN_URL" "${form[@]}"
  local second=${lines[1]}
  run -0 jwt_claims "$first"
  assert_line scope=openid
  refute_line --partial aud=
  local jti1
  jti1=$(jwt_claims "$first" | grep '^jti=')
  [[ $jti1 != "$(jwt_claims "$second" | grep '^jti=')" ]]
  run -0 token_server_stats last_auth_method
  assert_output client_secret_post
}

@test "token server: wrong secret 401 invalid_client, bad grant 400, counters increment" {
  local before
  before=$(token_server_stats token_requests)
  run -0 http_request -u dtbus:nope POST "$TOKEN_SERVER_TOKEN_URL" grant_type=client_credentials
  assert_line --index 0 401
  assert_line --index 1 '{"error": "invalid_client", "error_description": "Invalid client or Invalid client credentials"}'
  run -0 http_request POST "$TOKEN_SERVER_TOKEN_URL" grant_type=client_credentials
  assert_line --index 0 401
  run -0 http_request -u "dtbus:$TOKEN_SERVER_CLIENT_SECRET" POST "$TOKEN_SERVER_TOKEN_URL" grant_type=password
  assert_line --index 0 400
  assert_line --index 1 --partial '"error": "unsupported_grant_type"'
  run -0 token_server_stats token_requests
  assert_output $((before + 3))
  # the state file mirrors /_stats
  run -0 "$DTBUS_PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["token_requests"])' "$TOKEN_SERVER_STATE"
  assert_output $((before + 3))
}

@test "token server: fault modes 500, malformed, no_token, slow; back to ok" {
  local ok=(-u "dtbus:$TOKEN_SERVER_CLIENT_SECRET" POST "$TOKEN_SERVER_TOKEN_URL" grant_type=client_credentials)
  token_server_mode 500
  run -0 http_request "${ok[@]}"
  assert_line --index 0 500
  token_server_mode malformed
  run -0 http_request "${ok[@]}"
  assert_line --index 0 200
  run ! "$DTBUS_PYTHON" -c 'import json,sys; json.loads(sys.argv[1])' "${lines[1]}"
  token_server_mode no_token
  run -0 http_request "${ok[@]}"
  assert_line --index 0 200
  refute_line --partial access_token
  token_server_mode slow 0.6
  local t0=${EPOCHREALTIME/./}
  run -0 http_request "${ok[@]}"
  assert_line --index 0 200
  (((${EPOCHREALTIME/./} - t0) >= 600000))
  token_server_mode ok
  run -0 http_request "${ok[@]}"
  assert_line --index 0 200
  assert_line --index 1 --partial access_token
}

@test "token server: a test-scoped server with --fixed-token and --mode; the file's keeps running" {
  local file_pid=$TOKEN_SERVER_PID
  token_server_start --fixed-token fixed.tok.en --client-secret s --issuer-path /realms/other/ --mode 500
  [[ $TOKEN_SERVER_PID != "$file_pid" && $TOKEN_SERVER_ISSUER == */realms/other ]]
  run -0 http_request -u dtbus:s POST "$TOKEN_SERVER_TOKEN_URL" grant_type=client_credentials
  assert_line --index 0 500
  token_server_mode ok
  run -0 http_request -u dtbus:s POST "$TOKEN_SERVER_TOKEN_URL" grant_type=client_credentials
  assert_line --index 1 --partial '"access_token": "fixed.tok.en"'
  token_server_stop
  pid_alive "$file_pid"
}

@test "dtbus_isolate_env: HOME/XDG in the test dir, MQTT_*/OIDC_*/DTBUS_CONFIG unset, empty cwd" {
  export MQTT_HOST=leak OIDC_CLIENT_SECRET=leak DTBUS_CONFIG=leak NO_COLOR=1
  dtbus_isolate_env
  [[ $HOME == "$BATS_TEST_TMPDIR"/* && $XDG_CONFIG_HOME == "$BATS_TEST_TMPDIR"/* ]]
  [[ $XDG_STATE_HOME == "$BATS_TEST_TMPDIR"/* && $XDG_CACHE_HOME == "$BATS_TEST_TMPDIR"/* ]]
  [[ -z ${MQTT_HOST+x}${OIDC_CLIENT_SECRET+x}${DTBUS_CONFIG+x}${NO_COLOR+x} ]]
  [[ $PWD == "$BATS_TEST_TMPDIR"/* && -z $(ls -A) ]]
  [[ :$PATH: == *":$DTBUS_BIN_DIR:"* ]]
  [[ $DTBUS_SOURCE_DIR/tests/e2e/helpers/common.bash -ef $BATS_TEST_DIRNAME/helpers/common.bash ]]
}

@test "polling helpers: wait_for_line / wait_for_file_lines succeed, and fail bounded with the tail" {
  bg_start W bash -c 'for i in 1 2 3; do echo "line $i"; done; echo done'
  wait_for_line "$W_OUT" '^done$' 5
  wait_for_file_lines "$W_OUT" 4 5
  bg_wait W 5
  local t0=${EPOCHREALTIME/./}
  run -1 wait_for_line "$W_OUT" '^never$' 0.3
  assert_output --partial "line 3"
  run -1 wait_for_file_lines "$W_OUT" 10 0.3
  assert_output --partial "has 4 lines, wanted 10"
  local took=$((${EPOCHREALTIME/./} - t0))
  ((took >= 600000 && took < 5000000)) # bounded: both waited their 0.3 s, neither hung
  run -1 wait_until 0.2 false
  run -124 run_with_timeout 0.3 sleep 10
  bg_start F bash -c 'exit 7'
  run -7 bg_wait F 5
  write_config "$BATS_TEST_TMPDIR/sub/x.yaml" <<'EOF'
brokers: {}
EOF
  [[ $(cat "$BATS_TEST_TMPDIR/sub/x.yaml") == "brokers: {}" ]]
}

@test "cleanup, part 1: start processes in a test and record their pids" {
  bg_start S sleep 300
  broker_start doomed
  token_server_start
  printf '%s\n' "$S" "$BROKER_DOOMED_PID" "$TOKEN_SERVER_PID" >"$BATS_FILE_TMPDIR/test-pids"
}

@test "cleanup, part 2: teardown stopped every pid of part 1" {
  [[ -s $BATS_FILE_TMPDIR/test-pids ]]
  local pid
  while read -r pid; do
    ! pid_alive "$pid" || fail "pid $pid still running"
  done <"$BATS_FILE_TMPDIR/test-pids"
}

@test "cleanup: teardown_file stops what setup_file started (nested bats run)" {
  local dir=$BATS_TEST_TMPDIR/nested pid var at=@ # no literal test marker: bats would parse it
  mkdir -p "$dir"
  cat >"$dir/inner.bats" <<EOF
load "$BATS_TEST_DIRNAME/helpers/common"
setup_file() {
  broker_start inner --tls --password
  token_server_start
  bg_start BG sleep 300
  printf '%s\n' "\$BROKER_INNER_PID" "\$TOKEN_SERVER_PID" "\$BG" >"$dir/pids"
}
teardown_file() { cleanup_all; }
${at}test "restart inside a test" { broker_restart inner; echo "\$BROKER_INNER_PID" >>"$dir/pids"; }
EOF
  # a clean environment for the inner bats, or it takes over the outer run's state
  local -a clean=()
  for var in $(compgen -e); do
    [[ $var =~ ^(BATS_|BROKER_|TOKEN_SERVER_) && $var != BATS_LIB_PATH ]] && clean+=(-u "$var")
  done
  run -0 env "${clean[@]}" bats "$dir/inner.bats"
  assert_line "ok 1 restart inside a test"
  [[ $(wc -l <"$dir/pids") == 4 ]]
  while read -r pid; do
    ! pid_alive "$pid" || fail "pid $pid still running"
  done <"$dir/pids"
}
