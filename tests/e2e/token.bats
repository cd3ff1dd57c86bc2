#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# dtbus token and token-authenticated brokers (SPEC §3 token_providers, §4 dtbus token), against
# tests/fixtures/token_server.py and a mosquitto that accepts user `jwt` with the token.
# bats file_tags=token,broker

load helpers/common

# A client secret that must never show up in any output, log or cache file.
SECRET='Sup3r:S3cr3t +/%-never-print'
FIXED='fixed.tok3n-for-mosquitto'

setup() {
  dtbus_isolate_env
  CONFIG=$XDG_CONFIG_HOME/dtbus/brokers.yaml
  CACHE=$XDG_CACHE_HOME/dtbus/tokens
}

teardown() {
  cleanup_all
}

# write_token_config [PORT] [MARGIN] [provider lines...] — broker `tok` (default) with provider
# `kc` by discovery; extra lines are added to the provider.
write_token_config() {
  local port=${1:-1} margin=${2:-30}
  shift 2 || shift $#
  local extra=""
  (($#)) && extra=$(printf '    %s\n' "$@")
  write_config "$CONFIG" <<EOF
brokers:
  tok:
    type: mqtt
    config:
      host: 127.0.0.1
      port: $port
      token_refresh_margin: $margin
      reconnect_interval: 0.2
    token_provider: kc
  plain:
    type: mqtt
    config:
      host: 127.0.0.1
      port: $port
token_providers:
  kc:
    type: oidc_client_credentials
    base_url: "$TOKEN_SERVER_ISSUER"
    client_id: dtbus
    client_secret: "\${KC_SECRET}"
$extra
default_broker: tok
EOF
  export KC_SECRET=$SECRET
}

# No output, log or file under the cache may contain the secret.
refute_secret_in() {
  local f
  for f in "$@"; do
    if [[ -e $f ]] && grep -rqF -- "$SECRET" "$f"; then
      echo "secret found in $f" >&2
      return 1
    fi
  done
  [[ $output != *"$SECRET"* ]] || { echo "secret in \$output" >&2; return 1; }
}

# A mosquitto that only accepts user jwt with the fixed token as password.
start_token_broker() {
  local pw=$BATS_TEST_TMPDIR/jwt.passwd
  mosquitto_passwd -b -c "$pw" jwt "$FIXED" >/dev/null
  broker_start tok --extra "allow_anonymous false" --extra "password_file $pw"
}

# all_received FILE N [--report] — the JSON Lines in FILE carry every payload 1..N.
all_received() {
  "$DTBUS_PYTHON" - "$@" <<'PY'
import json, sys
got = set()
for line in open(sys.argv[1]):
    try:
        got.add(json.loads(line)["payload"])
    except ValueError:
        pass  # a line being written
missing = [i for i in range(1, int(sys.argv[2]) + 1) if i not in got]
if missing and sys.argv[3:] == ["--report"]:
    print("missing %d of %s: %s" % (len(missing), sys.argv[2], missing[:20]), file=sys.stderr)
sys.exit(1 if missing else 0)
PY
}

@test "token: only the token and a newline, usable in \$(...); discovery, basic auth" {
  token_server_start --client-secret "$SECRET"
  write_token_config
  run -0 --separate-stderr dtbus token
  refute_secret_in
  [[ ${#lines[@]} -eq 1 ]]
  [[ $output =~ ^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$ ]]
  [[ -z $stderr ]]
  tok=$(dtbus token)
  [[ $tok == "$output" ]] # the second call is the cached token, byte for byte
  run -0 token_server_stats discovery_requests
  assert_output 1
  run -0 token_server_stats last_auth_method
  assert_output client_secret_basic

  run -0 dtbus token -o header
  assert_output "Authorization: Bearer $tok"
  run -0 dtbus token -o json
  run -0 "$DTBUS_PYTHON" -c '
import json, sys, time
d = json.loads(sys.argv[1])
assert list(d) == ["access_token", "token_type", "expires_at", "expires_in", "scope"], d  # SPEC order
assert d["access_token"] == sys.argv[2] and d["token_type"] == "Bearer" and d["scope"] == "openid"
assert 290 <= d["expires_in"] <= 300, d
assert d["expires_at"].endswith("Z")' "$output" "$tok"
}

@test "token --decode: header and claims, signature not verified on stderr, human expiry" {
  token_server_start --client-secret "$SECRET" --lifetime 252
  write_token_config
  run -0 --separate-stderr dtbus token --decode
  assert_output --partial '"alg": "HS256"'
  assert_output --partial '"azp": "dtbus"'
  assert_output --regexp 'expires in 4m [0-9]+s \([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z\)'
  [[ $stderr == *"signature is not verified"* ]]
  run -0 --separate-stderr dtbus token --decode -o json
  run -0 "$DTBUS_PYTHON" -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["header"]["typ"] == "JWT" and d["claims"]["client_id"] == "dtbus", d' "$output"
  run -2 dtbus token --decode -o header
}

@test "token cache: one endpoint hit for several processes, 0700/0600, no secret; --refresh, --no-cache" {
  token_server_start --client-secret "$SECRET"
  write_token_config
  # Three processes at once on an empty cache while the endpoint is slow: one fetches, the
  # others wait for it and reuse its token.
  token_server_mode slow 0.5
  for i in 1 2 3; do bg_start "P$i" dtbus token; done
  for i in 1 2 3; do bg_wait "P$i" 10; done
  audit_allow_tokens "$P1_OUT" "$P2_OUT" "$P3_OUT" # printing the token is what they are for
  first=$(cat "$P1_OUT")
  [[ -n $first && $(cat "$P2_OUT") == "$first" && $(cat "$P3_OUT") == "$first" ]]
  token_server_mode ok
  [[ $(dtbus token) == "$first" ]]
  [[ $(dtbus token -o json) == *"$first"* ]]
  run -0 token_server_stats token_requests
  assert_output 1
  run -0 token_server_stats discovery_requests
  assert_output 1

  [[ $(stat -c %a "$CACHE") == 700 ]]
  files=("$CACHE"/*.json)
  [[ ${#files[@]} -eq 1 ]]
  [[ $(stat -c %a "${files[0]}") == 600 ]]
  grep -qF "$first" "${files[0]}"
  refute_secret_in "$XDG_CACHE_HOME"

  second=$(dtbus token --refresh)
  [[ $second != "$first" ]]
  [[ $(dtbus token) == "$second" ]]
  run -0 token_server_stats token_requests
  assert_output 2

  third=$(dtbus token --no-cache)
  [[ $third != "$second" ]]
  [[ $(dtbus token) == "$second" ]] # --no-cache did not write either
  run -0 token_server_stats token_requests
  assert_output 3

  # Writers racing readers: every reader gets a whole token, never a torn file.
  for i in 1 2 3; do
    bg_start "W$i" dtbus token --refresh
    bg_start "R$i" dtbus token
  done
  for i in 1 2 3; do
    bg_wait "W$i" 10
    bg_wait "R$i" 10
    out_var=R${i}_OUT
    w_var=W${i}_OUT
    audit_allow_tokens "${!out_var}" "${!w_var}" # their stdout is the token
    [[ $(cat "${!out_var}") =~ ^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$ ]]
  done
  "$DTBUS_PYTHON" -c 'import json, sys; json.load(open(sys.argv[1]))' "${files[0]}"
  [[ -z $(find "$CACHE" -name '.*' -type f) ]] # no temp file left behind
}

@test "token cache: refreshed once the cached token is within the margin of expiry" {
  token_server_start --client-secret "$SECRET" --lifetime 3
  write_token_config 1 1 # usable for 2 s
  start=$SECONDS
  first=$(dtbus token)
  [[ $(dtbus token) == "$first" ]]
  run -0 token_server_stats token_requests
  assert_output 1
  # Poll (bounded) until a different token comes back: that is the refresh.
  for ((i = 0; i < 60; i++)); do
    next=$(dtbus token)
    [[ $next != "$first" ]] && break
    sleep 0.1
  done
  [[ $next != "$first" ]]
  ((SECONDS - start >= 1))
  run -0 token_server_stats token_requests
  assert_output 2
}

@test "token cache: a pre-existing 0644 file and 0755 dir become 0600/0700" {
  token_server_start --client-secret "$SECRET"
  write_token_config
  first=$(dtbus token)
  file=$(echo "$CACHE"/*.json)
  chmod 0644 "$file"
  chmod 0755 "$CACHE"
  [[ $(dtbus token) == "$first" ]] # reused, and tightened on the way
  [[ $(stat -c %a "$file") == 600 ]]
  # A loose garbage file is replaced atomically by a private one.
  echo '{"torn' >"$file"
  chmod 0644 "$file"
  second=$(dtbus token)
  [[ $second != "$first" ]]
  [[ $(stat -c %a "$file") == 600 ]]
  [[ $(stat -c %a "$CACHE") == 700 ]]
  [[ -z $(find "$CACHE" -name '.*' -type f) ]] # no temp file left behind
}

@test "token cache: a loosened directory is made 0700 again when the cached token is reused" {
  token_server_start --client-secret "$SECRET"
  write_token_config
  first=$(dtbus token)
  chmod 0755 "$CACHE"
  chmod 0755 "$XDG_CACHE_HOME/dtbus"
  run -0 --separate-stderr dtbus token
  [[ $output == "$first" && -z $stderr ]] # reused quietly, no new fetch
  run -0 token_server_stats token_requests
  assert_output 1
  [[ $(stat -c %a "$CACHE") == 700 ]]
}

@test "token cache: a symbolic link as cache file or directory is replaced, with one warning" {
  token_server_start --client-secret "$SECRET"
  write_token_config
  first=$(dtbus token)
  file=$(echo "$CACHE"/*.json)
  # the cache file points elsewhere: not read, not written through, replaced by a private file
  mkdir -p "$BATS_TEST_TMPDIR/elsewhere"
  cp "$file" "$BATS_TEST_TMPDIR/elsewhere/planted.json"
  audit_allow_tokens "$BATS_TEST_TMPDIR/elsewhere" # the test planted a token there itself
  chmod 0644 "$BATS_TEST_TMPDIR/elsewhere/planted.json"
  ln -sf "$BATS_TEST_TMPDIR/elsewhere/planted.json" "$file"
  run -0 --separate-stderr dtbus token
  [[ $output != "$first" ]] # a new token, not the one behind the link
  [[ ${#stderr_lines[@]} -eq 1 ]]
  [[ $stderr == "dtbus token: warning: token cache file $file was a symbolic link (to $BATS_TEST_TMPDIR/elsewhere/planted.json); replaced by a private file" ]]
  [[ -f $file && ! -L $file && $(stat -c %a "$file") == 600 ]]
  grep -qF "$first" "$BATS_TEST_TMPDIR/elsewhere/planted.json" # the target is untouched
  [[ $(stat -c %a "$BATS_TEST_TMPDIR/elsewhere/planted.json") == 644 ]]
  second=$output
  run -0 --separate-stderr dtbus token
  [[ $output == "$second" && -z $stderr ]] # and then reused quietly

  # the cache directory points elsewhere: replaced by a private directory
  rm -rf "$CACHE"
  mkdir -p "$BATS_TEST_TMPDIR/shared"
  chmod 0777 "$BATS_TEST_TMPDIR/shared"
  ln -s "$BATS_TEST_TMPDIR/shared" "$CACHE"
  run -0 --separate-stderr dtbus token
  [[ ${#stderr_lines[@]} -eq 1 ]]
  [[ $stderr == "dtbus token: warning: token cache directory $CACHE was a symbolic link (to $BATS_TEST_TMPDIR/shared); replaced by a private directory" ]]
  [[ -d $CACHE && ! -L $CACHE && $(stat -c %a "$CACHE") == 700 ]]
  [[ -z $(ls -A "$BATS_TEST_TMPDIR/shared") && $(stat -c %a "$BATS_TEST_TMPDIR/shared") == 777 ]]
  [[ -f $(echo "$CACHE"/*.json) ]]
}

@test "token: an answer over 1 MiB is 'response too large', exit 4, with or without Content-Length" {
  token_server_start --client-secret "$SECRET"
  write_token_config
  for mode in huge huge_chunked; do
    token_server_mode "$mode"
    run -4 --separate-stderr dtbus token --no-cache
    [[ -z $output ]]
    [[ ${#stderr_lines[@]} -eq 1 ]]
    [[ $stderr == "dtbus token: error: token provider 'kc' ($TOKEN_SERVER_TOKEN_URL): response too large"* ]]
  done
  run -0 token_server_stats token_issued
  assert_output 2
  [[ ! -e $CACHE ]] || [[ -z $(find "$CACHE" -name '*.json') ]]
}

token_requests_are() { [[ $(token_server_stats token_requests) == "$1" ]]; }

@test "token: SIGTERM or SIGINT while waiting for the endpoint is exit 130 with one error line" {
  token_server_start --client-secret "$SECRET"
  write_token_config
  token_server_mode slow 30
  local sig n=0
  for sig in TERM INT; do
    bg_start T dtbus token
    n=$((n + 1))
    wait_until 10 token_requests_are "$n"
    kill -s "$sig" "$T"
    run bg_wait T 5
    assert_equal "$status" 130
    run -0 cat "$T_ERR"
    assert_output "dtbus token: error: token provider 'kc' ($TOKEN_SERVER_TOKEN_URL): interrupted while waiting for the answer"
  done
}

@test "token: wrong secret is exit 5 with the server's message, secret never printed (also -vvv)" {
  token_server_start --client-secret 'the-right-one'
  write_token_config
  run -5 --separate-stderr dtbus token -vvv
  [[ -z $output ]]
  output=$stderr
  assert_output --partial "dtbus token: error: token provider 'kc'"
  assert_output --partial "$TOKEN_SERVER_TOKEN_URL"
  assert_output --partial "invalid_client: Invalid client or Invalid client credentials (HTTP 401)"
  refute_secret_in "$XDG_CACHE_HOME"
  [[ ! -e $CACHE ]] || [[ -z $(find "$CACHE" -name '*.json') ]]
}

@test "token: client_secret_post with token_url (no discovery), scope and audience" {
  token_server_start --client-secret "$SECRET" --auth-methods client_secret_post
  write_token_config 1 30 "token_url: \"$TOKEN_SERVER_TOKEN_URL\"" "auth_method: client_secret_post" \
    "scope: openid mqtt" "audience: broker"
  run -0 --separate-stderr dtbus token --decode -o json
  refute_secret_in
  [[ $output == *'"aud":"broker"'* ]]
  run -0 token_server_stats discovery_requests
  assert_output 0
  run -0 token_server_stats last_auth_method
  assert_output client_secret_post
  run -0 token_server_stats last_scope
  assert_output "openid mqtt"
  # The same provider with basic auth is refused by this server: exit 5 naming the reason.
  write_token_config 1 30 "token_url: \"$TOKEN_SERVER_TOKEN_URL\"" "scope: openid mqtt" "audience: broker"
  run -5 dtbus token --no-cache
  assert_output --partial "Client authentication method not allowed"
}

@test "token: endpoint down, HTTP 500 and timeout are exit 4; malformed or token-less answers exit 1" {
  token_server_start --client-secret "$SECRET"
  write_token_config 1 30 "timeout: 1"
  token_server_mode 500
  run -4 dtbus token
  assert_output --partial "server error (HTTP 500)"
  token_server_mode slow 3
  run -4 dtbus token
  assert_output --partial "timeout"
  token_server_mode malformed
  run -1 dtbus token
  assert_output --partial "not a JSON object"
  token_server_mode no_token
  run -1 dtbus token
  assert_output --partial "no access_token"
  refute_secret_in "$XDG_CACHE_HOME"
  token_server_stop
  run -4 dtbus token
  assert_output --partial "token provider 'kc' ($TOKEN_SERVER_ISSUER/.well-known/openid-configuration)"
  refute_secret_in
}

@test "token: provider from --provider, -b, or OIDC_* env; a broker without one is exit 3" {
  token_server_start --client-secret "$SECRET"
  write_token_config
  run -0 dtbus token --provider kc
  run -3 dtbus token --provider kx
  assert_output --partial "no token provider named 'kx'"
  run -3 dtbus token -b plain
  assert_output --partial "broker 'plain' has no token_provider"
  run -2 dtbus token -b tok --provider kc

  rm "$CONFIG"
  run -3 dtbus token
  assert_output --partial "OIDC_BASE_URL"
  OIDC_BASE_URL=$TOKEN_SERVER_ISSUER OIDC_CLIENT_ID=dtbus OIDC_CLIENT_SECRET=$SECRET OIDC_SCOPE=mqtt \
    run -0 --separate-stderr dtbus token --no-cache --decode -o json
  [[ $output == *'"scope":"mqtt"'* ]]
  refute_secret_in
}

@test "broker with token: mosquitto clients with \$(dtbus token), dtbus pub/sub, config test --connect" {
  token_server_start --client-secret "$SECRET" --fixed-token "$FIXED"
  start_token_broker
  write_token_config "$BROKER_TOK_PORT"
  # The broker really demands the token.
  run mosquitto_pub -h 127.0.0.1 -p "$BROKER_TOK_PORT" -t t/x -m anon
  ((status != 0))

  bg_start MSUB mosquitto_sub -h 127.0.0.1 -p "$BROKER_TOK_PORT" -u jwt -P "$(dtbus token)" \
    -t 'tok/m' -q 1 -C 1 -W 10
  broker_wait_subscribed tok tok/m
  run -0 mosquitto_pub -h 127.0.0.1 -p "$BROKER_TOK_PORT" -u jwt -P "$(dtbus token)" -t tok/m -q 1 -m via-mosquitto
  bg_wait MSUB 10
  [[ $(cat "$MSUB_OUT") == via-mosquitto ]]

  run -0 --separate-stderr dtbus config test --connect -vvv
  assert_output --partial "connected"
  refute_secret_in
  [[ $stderr != *"$SECRET"* && $stderr != *"$FIXED"* ]]
  # A wrong secret (own cache: the cached token would still be valid) is refused: exit 5.
  XDG_CACHE_HOME=$BATS_TEST_TMPDIR/other-cache KC_SECRET=wrong run -5 dtbus config test --connect
  run -0 token_server_stats token_requests
  assert_output 2 # mosquitto calls + config test shared one cached token; the wrong one asked once

  bg_start SUB dtbus sub -t 'tok/d' -q 1 -C 1 -W 10 -o json -vvv
  broker_wait_subscribed tok tok/d
  run -0 --separate-stderr dtbus pub -t tok/d -q 1 -m '{"via":"dtbus"}' -vvv
  [[ $stderr != *"$SECRET"* && $stderr != *"$FIXED"* ]]
  bg_wait SUB 10
  grep -qF '"payload":{"via":"dtbus"}' "$SUB_OUT"
  refute_secret_in "$SUB_OUT" "$SUB_ERR" "$XDG_CACHE_HOME"
  ! grep -qF "$FIXED" "$SUB_ERR"
}

@test "broker with token: a sub outlives several short-lived tokens and receives every QoS1 message" {
  token_server_start --client-secret "$SECRET" --fixed-token "$FIXED" --lifetime 3
  start_token_broker
  write_token_config "$BROKER_TOK_PORT" 1 # renew every ~2 s
  bg_start SUB dtbus sub -t 'renew/#' -q 1 -o json -vvv
  broker_wait_subscribed tok 'renew/#'
  # QoS1 messages until the connection has been renewed three times (bounded: 40 s).
  n=0
  end=$((SECONDS + 40))
  while ((SECONDS < end)) && (($(grep -c "renewing the connection" "$SUB_ERR") < 3)); do
    n=$((n + 1))
    mosquitto_pub -h 127.0.0.1 -p "$BROKER_TOK_PORT" -u jwt -P "$FIXED" -t "renew/$n" -q 1 -m "$n"
    sleep 0.1
  done
  # QoS1 is at least once: duplicates are fine, a gap is not.
  wait_until 15 all_received "$SUB_OUT" "$n" || all_received "$SUB_OUT" "$n" --report
  bg_stop SUB
  renewals=$(grep -c "renewing the connection" "$SUB_ERR") || true
  ((renewals >= 3))
  run -0 token_server_stats token_requests
  ((output >= 3))
  refute_secret_in "$SUB_OUT" "$SUB_ERR" "$XDG_CACHE_HOME"
  ! grep -qF "$FIXED" "$SUB_ERR" # nor the token, even at -vvv
}
