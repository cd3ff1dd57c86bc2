#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# Secrets (SPEC §2: "Secrets never appear in any output or log"): every command at -vvv against a
# password broker and a token broker, the secret given by --password-file, MQTT_PASSWORD, ${VAR}
# in the config and -P. Each command's stdout and stderr are kept as files under the test's
# tmpdir, so the harness's secrets audit (secrets_audit_dir, run here explicitly and again by
# cleanup_all) greps them with the token cache and the DLQ spools for every secret it knows.
# bats file_tags=secrets,broker

# shellcheck disable=SC2016,SC2154 # ${VAR} written for the config; $stderr comes from `run`

load helpers/common

setup_file() {
  dtbus_isolate_env
  # Long, unmistakable secrets: the broker password (broker_start), the client secret, and the
  # JWT-shaped token the token server always issues and the token broker accepts for user jwt.
  export CLIENT_SECRET=cs-$SRANDOM-$SRANDOM-not-for-your-eyes
  FIXED_TOKEN=$("$DTBUS_PYTHON" - <<'PY'
import base64, json, os, time
b64 = lambda d: base64.urlsafe_b64encode(d).rstrip(b"=").decode()
head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
claims = b64(json.dumps({"sub": "svc", "exp": int(time.time()) + 3600, "scope": "mqtt"}).encode())
print(head + "." + claims + "." + b64(os.urandom(32)))
PY
  )
  export FIXED_TOKEN
  token_server_start --client-secret "$CLIENT_SECRET" --fixed-token "$FIXED_TOKEN"
  broker_start pw --password
  mosquitto_passwd -b -c "$BATS_FILE_TMPDIR/jwt.passwd" jwt "$FIXED_TOKEN" >/dev/null
  broker_start tok --extra "allow_anonymous false" --extra "password_file $BATS_FILE_TMPDIR/jwt.passwd"
}

teardown_file() { cleanup_all; }

setup() {
  dtbus_isolate_env
  CONFIG=$XDG_CONFIG_HOME/dtbus/brokers.yaml
  OUT=$BATS_TEST_TMPDIR/out
  mkdir -p "$OUT"
}

teardown() { cleanup_all; }

# pw_config NAME [config lines...] — broker `pw` (user alice) with its own DLQ, default.
pw_config() {
  local name=$1 lines=""
  shift
  (($#)) && lines=$(printf '      %s\n' "$@")
  write_config "$CONFIG" <<EOF
brokers:
  pw:
    type: mqtt
    config:
      host: 127.0.0.1
      port: $BROKER_PW_PORT
      username: alice
      reconnect_interval: 0.2
$lines
    dlq: {topic: "sec/$name/dlq/#", client_id: "dtbus-dlq-$name"}
default_broker: pw
EOF
}

# tok_config NAME — broker `tok` with token provider `kc` (client secret from ${KC_SECRET}).
tok_config() {
  write_config "$CONFIG" <<EOF
brokers:
  tok:
    type: mqtt
    config: {host: 127.0.0.1, port: $BROKER_TOK_PORT, reconnect_interval: 0.2}
    token_provider: kc
    dlq: {topic: "sec/$1/dlq/#", client_id: "dtbus-dlq-$1"}
token_providers:
  kc:
    type: oidc_client_credentials
    base_url: "$TOKEN_SERVER_ISSUER"
    client_id: dtbus
    client_secret: "\${KC_SECRET}"
default_broker: tok
EOF
}

# static_tok_config NAME — broker `tok` with user jwt and no token provider (the token is given
# as a static password).
static_tok_config() {
  write_config "$CONFIG" <<EOF
brokers:
  tok:
    type: mqtt
    config: {host: 127.0.0.1, port: $BROKER_TOK_PORT, username: jwt}
    dlq: {topic: "sec/$1/dlq/#", client_id: "dtbus-dlq-$1"}
EOF
}

# Runs `dtbus ARGS...` with -vvv; stdout and stderr go to $OUT/LABEL.out/.err. Fails (showing
# stderr) unless the exit status is WANT.
dtbus_as() { # LABEL WANT ARGS...
  local label=$1 want=$2 rc=0
  shift 2
  dtbus -vvv "$@" >"$OUT/$label.out" 2>"$OUT/$label.err" </dev/null || rc=$?
  if ((rc != want)); then
    echo "dtbus -vvv $* (as $label): exit $rc, wanted $want" >&2
    cat "$OUT/$label.err" >&2
    return 1
  fi
}

dead_letter() { # PREFIX N — the tracker DLQ shape, for original topic PREFIX/orig
  printf '{"original_topic":"%s/orig","failure_reason":"boom","failure_timestamp":"2024-05-01T12:00:00Z","payload":{"n":%s}}' \
    "$1" "$2"
}

# every_command WAY [GLOBAL ARGS...] — config test --connect, config show, pub, sub --record,
# replay, dlq attach/list/recover (dry run and real) at -vvv, all expected to succeed; and
# token --decode, expected to exit $TOKEN_RC (default 3: the broker has no token provider).
every_command() {
  local way=$1 t=sec/$1
  shift
  dtbus_as "$way-config-test" 0 config test --connect "$@"
  dtbus_as "$way-config-show" 0 config show "$@"
  dtbus_as "$way-config-show-json" 0 config show -o json "$@"
  dtbus_as "$way-pub" 0 pub "$@" -t "$t/data" -q 1 -r -m '{"n":1}'
  dtbus_as "$way-sub" 0 sub "$@" -t "$t/data" -q 1 -C 1 -W 10 -o json --record "$OUT/$way.rec"
  grep -qF '"payload":{"n":1}' "$OUT/$way-sub.out"
  dtbus_as "$way-replay" 0 replay "$@" --speed 0 --topic-map "$t/data=$t/replayed" "$OUT/$way.rec"
  dtbus_as "$way-dlq-attach" 0 dlq attach "$@"
  dtbus_as "$way-dlq-pub" 0 pub "$@" -t "$t/dlq/x" -q 1 -m "$(dead_letter "$t" 7)"
  dtbus_as "$way-dlq-list" 0 dlq list "$@" -o json
  grep -qF "\"original_topic\":\"$t/orig\"" "$OUT/$way-dlq-list.out"
  dtbus_as "$way-dlq-dry" 0 dlq recover "$@" --dry-run -o json
  dtbus_as "$way-dlq-recover" 0 dlq recover "$@" -o json
  grep -qF '"recovered":1' "$OUT/$way-dlq-recover.out"
  dtbus_as "$way-token-decode" "${TOKEN_RC:-3}" token "$@" --decode
}

# Files under DIR: every regular file mode 0600, every directory 0700 (DIR itself included).
assert_private_tree() {
  local dir=$1 bad
  [[ -d $dir ]] || { echo "no $dir" >&2; return 1; }
  bad=$(find "$dir" \( -type f ! -perm 0600 \) -o \( -type d ! -perm 0700 \) -printf '%m %p\n')
  [[ -z $bad ]] || { echo "not private: $bad" >&2; return 1; }
}

@test "password broker, every command at -vvv: --password-file, MQTT_PASSWORD, \${VAR} in the config, -P; no secret anywhere" {
  local pwfile=$BATS_TEST_TMPDIR/mqtt.pw
  printf '%s\n' "$BROKER_PW_PASSWORD" >"$pwfile" # with a newline, as an editor leaves it
  chmod 600 "$pwfile"
  audit_allow "$pwfile"

  pw_config file
  every_command file -u alice --password-file "$pwfile"
  pw_config env
  MQTT_PASSWORD=$BROKER_PW_PASSWORD every_command env
  pw_config config 'password: "${SECRETS_PW}"'
  SECRETS_PW=$BROKER_PW_PASSWORD every_command config
  grep -qF 'password: "***"' "$OUT/config-config-show.out"
  grep -qF '"password": "***"' "$OUT/config-config-show-json.out"
  pw_config argv
  every_command argv -P "$BROKER_PW_PASSWORD"
  grep -qF "visible to other users" "$OUT/argv-pub.err"

  # Every command ran, and -vvv logged something (the libmosquitto trace included).
  (($(find "$OUT" -name '*.err' | wc -l) == 4 * 12))
  grep -qiE 'CONNECT' "$OUT/file-pub.err"
  # The DLQ spools are private.
  assert_private_tree "$XDG_STATE_HOME/dtbus"
  secrets_audit_dir
}

@test "token broker, every command and dtbus token at -vvv: client secret by \${VAR} and OIDC_CLIENT_SECRET, token by -P, file and env" {
  umask 000 # the cache and the spool must be private by themselves, whatever the umask
  tok_config cfg
  export KC_SECRET=$CLIENT_SECRET
  TOKEN_RC=0 every_command cfg
  dtbus_as cfg-token 0 token
  [[ $(<"$OUT/cfg-token.out") == "$FIXED_TOKEN" ]]
  audit_allow "$OUT/cfg-token.out" # printing it is what `dtbus token` is for
  dtbus_as cfg-token-json 0 token -o json
  audit_allow "$OUT/cfg-token-json.out"
  dtbus_as cfg-token-header 0 token -o header
  audit_allow "$OUT/cfg-token-header.out"
  dtbus_as cfg-token-refresh 0 token --decode --refresh
  grep -qE '"sub": ?"svc"' "$OUT/cfg-token-refresh.out"
  grep -qF '"client_secret": "***"' "$OUT/cfg-config-show-json.out"
  unset KC_SECRET

  # No provider in the config: the OIDC_* variables, client secret from the environment.
  rm -f "$CONFIG"
  OIDC_BASE_URL=$TOKEN_SERVER_ISSUER OIDC_CLIENT_ID=dtbus OIDC_CLIENT_SECRET=$CLIENT_SECRET \
    dtbus_as env-token 0 token --no-cache
  [[ $(<"$OUT/env-token.out") == "$FIXED_TOKEN" ]]
  audit_allow "$OUT/env-token.out"

  # The token as a static password, through each of the three ways.
  local tokfile=$BATS_TEST_TMPDIR/token.pw
  printf '%s\n' "$FIXED_TOKEN" >"$tokfile"
  audit_allow "$tokfile"
  static_tok_config file
  every_command file --password-file "$tokfile"
  static_tok_config env
  MQTT_PASSWORD=$FIXED_TOKEN every_command env
  static_tok_config argv
  every_command argv -u jwt -P "$FIXED_TOKEN"

  # The cache and the spools: 0600 files in 0700 directories, even under umask 000.
  assert_private_tree "$XDG_CACHE_HOME/dtbus"
  assert_private_tree "$XDG_STATE_HOME/dtbus"
  [[ -n $(find "$XDG_CACHE_HOME/dtbus/tokens" -type f) ]]
  run ! grep -rqF -- "$CLIENT_SECRET" "$XDG_CACHE_HOME" # the cache holds the token, never the secret
  secrets_audit_dir
}

@test "config show and config test mask passwords and client secrets (yaml, json, literal and \${VAR})" {
  write_config "$CONFIG" <<EOF
brokers:
  a:
    type: mqtt
    config: {host: 127.0.0.1, port: $BROKER_PW_PORT, username: alice, password: "$BROKER_PW_PASSWORD"}
  b:
    type: mqtt
    config: {host: 127.0.0.1, port: $BROKER_TOK_PORT, username: u, password: "\${B_PW}"}
    token_provider: kc
token_providers:
  kc:
    type: oidc_client_credentials
    base_url: "$TOKEN_SERVER_ISSUER"
    client_id: dtbus
    client_secret: "$CLIENT_SECRET"
default_broker: a
EOF
  audit_secret B_PW b-password-from-the-environment
  export B_PW=b-password-from-the-environment
  run -0 --separate-stderr dtbus config show -vvv
  [[ $(grep -c 'password: "\*\*\*"' <<<"$output") == 2 ]]
  assert_output --partial 'client_secret: "***"'
  run -0 --separate-stderr dtbus config show -o json -b b -vvv
  assert_output --partial '"password": "***"'
  assert_output --partial '"client_secret": "***"'
  # b sets both a password and a token provider: a warning, naming the field, not the value.
  run -0 --separate-stderr dtbus config test --all --connect -o json -vvv
  assert_output --partial '"valid":true'
  [[ $output == *'ignored because token_provider is set'* ]]
  secrets_audit_dir
}

@test "errors never echo a secret: wrong password, wrong client secret, --url with a password, a misspelt key" {
  pw_config wrong
  audit_secret wrong-password "$BROKER_PW_PASSWORD-but-wrong"
  run -5 --separate-stderr dtbus -vvv pub -t x -q 1 -m y -P "$BROKER_PW_PASSWORD-but-wrong"
  # A password in --url is refused, malformed or not, without repeating it.
  run -2 --separate-stderr dtbus pub -t x -m y --url "mqtt://alice:$BROKER_PW_PASSWORD@127.0.0.1:$BROKER_PW_PORT"
  assert_equal "$stderr" "dtbus pub: error: --url must not carry a password; use --password-file or MQTT_PASSWORD"
  run -2 --separate-stderr dtbus pub -t x -m y --url "mqtt://alice:$BROKER_PW_PASSWORD/x@127.0.0.1"
  [[ $stderr == *"mqtt://***@127.0.0.1"* ]]
  secrets_audit_dir
  run -2 --separate-stderr dtbus pub -t x -m y --url "alice:$BROKER_PW_PASSWORD@127.0.0.1"
  secrets_audit_dir
  # A misspelt password key: an error naming the key, not its value.
  pw_config typo "pasword: \"$BROKER_PW_PASSWORD\""
  run -3 --separate-stderr dtbus config test -vvv
  assert_output --partial 'unknown key (did you mean "password"?)'
  secrets_audit_dir
  # A client secret the endpoint refuses: exit 5 with the server's message.
  tok_config wrong
  audit_secret wrong-client-secret "$CLIENT_SECRET-but-wrong"
  KC_SECRET=$CLIENT_SECRET-but-wrong run -5 --separate-stderr dtbus token -vvv --no-cache
  [[ $stderr == *invalid_client* ]]
}

@test "-P is hidden from /proc/<pid>/cmdline of a running dtbus (-P X, -PX, --password=X), with a warning" {
  pw_config argv
  local form i=0
  for form in "-P|$BROKER_PW_PASSWORD" "-P$BROKER_PW_PASSWORD" "--password=$BROKER_PW_PASSWORD"; do
    i=$((i + 1))
    IFS='|' read -ra args <<<"$form"
    bg_start SUB dtbus sub -vvv "${args[@]}" -t "sec/argv/$i" -q 1 -o json
    broker_wait_subscribed pw "sec/argv/$i"
    tr '\0' ' ' <"/proc/$SUB/cmdline" >"$OUT/cmdline-$i"
    bg_stop SUB
    grep -qE -- '(-P ?|--password=)\*{8,}' "$OUT/cmdline-$i"
    grep -qF "visible to other users" "$SUB_ERR"
  done
  secrets_audit_dir
}
