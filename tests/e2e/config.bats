#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# dtbus config test | show | path against real brokers (plain, password, TLS).

load helpers/common

setup_file() {
  dtbus_isolate_env
  broker_start plain
  broker_start secured --password
  broker_start tls --tls
}

teardown_file() {
  broker_stop_all
  cleanup_all
}

setup() {
  dtbus_isolate_env
}

teardown() {
  cleanup_all
}

seed=$DTBUS_SOURCE_DIR/config-examples/celine-seed.yaml

@test "the CELINE seed file passes unchanged with its variables unset and set" {
  run -0 dtbus config test -c "$seed"
  assert_output --partial "valid (0 errors, 0 warnings)"
  MQTT_HOST=127.0.0.1 MQTT_PORT=$BROKER_PLAIN_PORT run -0 dtbus config test -c "$seed" --connect
  assert_output --regexp "mqtt_local +127\.0\.0\.1:$BROKER_PLAIN_PORT \(default\)  connected in [0-9.]+ ms"
}

@test "MQTT_PORT=abc fails with exit 3 naming the port field and its line" {
  MQTT_PORT=abc run -3 dtbus config test -c "$seed"
  assert_line "$seed:7:13: error: brokers.mqtt_local.config.port: expected integer 1..65535, got \"abc\""
  MQTT_PORT=abc run -3 dtbus config test -c "$seed" -o json
  python3 - "$output" <<'PY'
import json, sys
report = json.loads(sys.argv[1])
assert report["valid"] is False, report
assert report["errors"] == [{"path": "brokers.mqtt_local.config.port", "line": 7, "column": 13,
                             "message": "expected integer 1..65535, got \"abc\""}], report["errors"]
assert [b["name"] for b in report["brokers"]] == ["mqtt_local", "mqtt_secure"]
PY
}

@test "every problem of a broken file is reported in one run, one line each, exit 3" {
  write_config brokers.yaml <<'YAML'
brokers:
  one:
    type: mqtt
    config:
      host: localhost
      prot: 1883
      port: 70000
      keepalive: soon
      use_tls: true
      ca_certs: /nonexistent/ca.pem
      password: "${NOPE:?set NOPE to the broker password}"
    token_provider: missing
  one:
    type: mqtt
default_broker: nobody
YAML
  run -3 --separate-stderr dtbus config test
  assert_line --partial 'brokers.one.config.prot: unknown key (did you mean "port"?)'
  assert_line --partial "brokers.one.config.port: "
  assert_line --partial "brokers.one.config.keepalive: expected integer"
  assert_line --partial "/nonexistent/ca.pem"
  assert_line --partial "set NOPE to the broker password"
  assert_line --partial "brokers.one: duplicate key"
  assert_line --partial "missing"
  assert_line --partial "nobody"
  # each error carries file:line:column
  local errors
  errors=$(grep -c '^brokers.yaml:[0-9]*:[0-9]*: error: ' <<<"$output")
  ((errors >= 8))
}

@test "YAML syntax errors and tabs name the line" {
  printf 'brokers:\n  a:\n    config: {host: [oops\n' > bad.yaml
  run -3 dtbus config test -c bad.yaml
  assert_output --regexp 'bad\.yaml:[0-9]+:[0-9]+: error: '
  printf 'brokers:\n  a:\n\tconfig:\n      host: x\n' > tabs.yaml
  run -3 dtbus config test -c tabs.yaml
  assert_output --regexp 'tabs\.yaml:3:[0-9]+: error: .*tab'
}

@test "unset variables warn with their location; --strict makes them errors" {
  write_config brokers.yaml <<'YAML'
brokers:
  a:
    type: mqtt
    config:
      host: "${SOME_HOST}"
YAML
  run -0 dtbus config test
  assert_output --regexp 'brokers\.yaml:5:[0-9]+: warning: brokers\.a\.config\.host: .*SOME_HOST'
  run -3 dtbus config test --strict
  assert_output --regexp 'brokers\.yaml:5:[0-9]+: error: .*SOME_HOST'
}

@test "keepalive 1..4 (libmosquitto refuses them): exit 3 naming the line in a file, exit 2 for -k" {
  printf 'brokers:\n  a:\n    type: mqtt\n    config:\n      host: localhost\n      keepalive: 3\n' > short.yaml
  run -3 dtbus config test -c short.yaml
  assert_output --regexp 'short\.yaml:6:[0-9]+: error: brokers\.a\.config\.keepalive: 0 \(off\) or 5\.\.65535 seconds, got 3'
  run -2 --separate-stderr dtbus pub -k 4 -t x -m y
  [[ $stderr == *"libmosquitto takes 0 (off) or 5..65535 seconds, not 4"* ]] || fail "$stderr"
  run -2 dtbus pub -k 70000 -t x -m y
}

@test "a missing config file is exit 3 naming it" {
  run -3 --separate-stderr dtbus config test -c /nonexistent/brokers.yaml
  [[ $stderr$output == *"/nonexistent/brokers.yaml"* ]]
}

@test "--connect: exit 4 for a closed port" {
  local closed
  closed=$(free_port)
  write_config brokers.yaml <<YAML
brokers:
  gone: {type: mqtt, config: {host: 127.0.0.1, port: $closed}}
YAML
  run -4 dtbus config test --connect
  assert_output --partial "Connection refused"
  run -4 dtbus config test --connect -o json
  assert_output --partial '"connect":{"ok":false,"latency_ms":null,"error":'
}

@test "--connect: exit 5 for a wrong password, and no password in any output" {
  local wrong="WrongPass-$RANDOM-xyz"
  write_config brokers.yaml <<YAML
brokers:
  secured:
    type: mqtt
    config:
      host: 127.0.0.1
      port: $BROKER_SECURED_PORT
      username: $BROKER_SECURED_USER
      password: "\${BROKER_PW}"
YAML
  BROKER_PW=$wrong run -5 --separate-stderr dtbus config test --connect -vvv
  assert_output --partial "refused the connection"
  [[ $output$stderr != *"$wrong"* ]]
  BROKER_PW=$BROKER_SECURED_PASSWORD run -0 --separate-stderr dtbus config test --connect -vvv -o json
  assert_output --partial '"ok":true'
  [[ $output$stderr != *"$BROKER_SECURED_PASSWORD"* ]]
  BROKER_PW=$BROKER_SECURED_PASSWORD run -0 dtbus config show
  assert_output --partial 'password: "***"'
  [[ $output != *"$BROKER_SECURED_PASSWORD"* ]]
}

@test "--connect over TLS verifies the server against the CA; a wrong CA is exit 4" {
  write_config brokers.yaml <<YAML
brokers:
  tls:
    type: mqtt
    config:
      host: localhost
      port: $BROKER_TLS_PORT
      use_tls: true
      ca_certs: $BROKER_TLS_CAFILE
YAML
  run -0 dtbus config test --connect
  assert_output --partial "connected in"
  run -4 dtbus config test --connect --cafile "$BROKER_TLS_OTHER_CAFILE"
  assert_output --partial "TLS"
  run -0 dtbus config test --connect --cafile "$BROKER_TLS_OTHER_CAFILE" --insecure
}

@test "config lookup order: -c > DTBUS_CONFIG > ./config/brokers.yaml > ./brokers.yaml > XDG" {
  mkdir -p config "$XDG_CONFIG_HOME/dtbus"
  for f in config/brokers.yaml brokers.yaml "$XDG_CONFIG_HOME/dtbus/brokers.yaml" env.yaml flag.yaml; do
    printf 'brokers: {}\n' > "$f"
  done
  run -0 dtbus config path
  assert_output --regexp '^config/brokers\.yaml'
  rm config/brokers.yaml
  run -0 dtbus config path
  assert_output --regexp '^(\./)?brokers\.yaml'
  rm brokers.yaml
  run -0 dtbus config path
  assert_output --partial "$XDG_CONFIG_HOME/dtbus/brokers.yaml"
  DTBUS_CONFIG=env.yaml run -0 dtbus config path
  assert_output --regexp '^env\.yaml'
  DTBUS_CONFIG=env.yaml run -0 dtbus config path -c flag.yaml
  assert_output --regexp '^flag\.yaml'
  rm "$XDG_CONFIG_HOME/dtbus/brokers.yaml"
  run -3 dtbus config path
  assert_output --partial "no config file found"
}

@test "config show prints the effective config (yaml and json), -b selects one broker" {
  MQTT_PORT=2883 run -0 dtbus config show -c "$seed"
  assert_output --partial "port: 2883"
  MQTT_PORT=2883 run -0 dtbus config show -c "$seed" -b mqtt_local -o json
  python3 - "$output" <<'PY'
import json, sys
doc = json.loads(sys.argv[1])
assert list(doc["brokers"]) == ["mqtt_local"], doc
assert doc["brokers"]["mqtt_local"]["config"]["port"] == 2883
PY
}

@test "every file in config-examples/ passes config test" {
  local f
  for f in "$DTBUS_SOURCE_DIR"/config-examples/*.yaml; do
    run -0 dtbus config test -c "$f"
    assert_output --partial "valid (0 errors"
  done
}

@test "seed 002's qos and shared subscriptions are sub's defaults; -q and --share override them" {
  write_config brokers.yaml <<YAML
brokers:
  product:
    type: mqtt
    config:
      host: 127.0.0.1
      port: $BROKER_PLAIN_PORT
      verify_cert: false
      qos: 1
      use_shared_subscriptions: true
      shared_group: bre
YAML
  run -0 dtbus config test
  assert_output --partial "valid (0 errors, 0 warnings)"
  run -0 dtbus config show -o json
  run -0 "$DTBUS_PYTHON" -c 'import json, sys; c = json.load(sys.stdin)["brokers"]["product"]["config"]
print(c["qos"], c["use_shared_subscriptions"], c["shared_group"])' <<<"$output"
  assert_output '1 True bre'

  # The defaults: the broker logs "<client> <qos> <filter>" for each subscription.
  bg_start S1 dtbus sub -t seed002/a -C 1 -W 20 -o json
  broker_wait_subscribed plain '$share/bre/seed002/a'
  run -0 grep -cE '^[0-9:]+: [^ ]+ 1 \$share/bre/seed002/a$' "$BROKER_PLAIN_LOG"
  run -0 dtbus pub -q 1 -t seed002/a -m one
  bg_wait S1 20
  run -0 "$DTBUS_PYTHON" -c 'import json, sys; m = json.load(sys.stdin); print(m["topic"], m["payload"], m["qos"])' <"$S1_OUT"
  assert_output 'seed002/a one 1'

  # The flags win.
  bg_start S2 dtbus sub -t seed002/b -q 0 --share other -C 1 -W 20 -o json
  broker_wait_subscribed plain '$share/other/seed002/b'
  run -0 grep -cE '^[0-9:]+: [^ ]+ 0 \$share/other/seed002/b$' "$BROKER_PLAIN_LOG"
  run -0 dtbus pub -q 1 -t seed002/b -m two
  bg_wait S2 20
  run -0 "$DTBUS_PYTHON" -c 'import json, sys; m = json.load(sys.stdin); print(m["topic"], m["payload"], m["qos"])' <"$S2_OUT"
  assert_output 'seed002/b two 0'

  # Bad values are config errors naming the field.
  write_config bad.yaml <<'YAML'
brokers:
  product:
    config: {qos: 5, use_shared_subscriptions: true}
YAML
  run -3 dtbus config test -c bad.yaml
  assert_line 'bad.yaml:3:19: error: brokers.product.config.qos: expected integer 0..2, got "5"'
  assert_line --partial 'brokers.product.config.use_shared_subscriptions: true needs a shared_group'
}

@test "certificate checks off: one warning per run, and config test reports each such entry" {
  # verify_cert: false with a CA that did not sign the broker: only the missing check lets it in.
  write_config brokers.yaml <<YAML
brokers:
  tls:
    type: mqtt
    config:
      host: localhost
      port: $BROKER_TLS_PORT
      use_tls: true
      ca_certs: $BROKER_TLS_OTHER_CAFILE
      verify_cert: false
  strict:
    type: mqtt
    config:
      host: localhost
      port: $BROKER_TLS_PORT
      use_tls: true
      ca_certs: $BROKER_TLS_CAFILE
default_broker: tls
YAML
  run -0 --separate-stderr dtbus pub -q 1 -t insecure/a -m x
  assert_equal "$(grep -c 'certificate verification is off' <<<"$stderr")" 1
  [[ $stderr == *"verify_cert: false in broker 'tls'"* ]]
  run -0 --separate-stderr dtbus pub -q 1 -b strict --cafile "$BROKER_TLS_OTHER_CAFILE" --insecure \
    -t insecure/b -m x
  assert_equal "$(grep -c 'certificate verification is off (--insecure)' <<<"$stderr")" 1
  run -0 --separate-stderr dtbus pub -q 1 -b strict -t insecure/c -m x
  assert_equal "$stderr" ""

  run -0 --separate-stderr dtbus config test --all --connect
  assert_line --regexp '^brokers\.yaml:9:20: warning: brokers\.tls\.config\.verify_cert: TLS certificate verification is off'
  assert_output --partial "(0 errors, 1 warning)"
  assert_equal "$(grep -c 'certificate verification is off' <<<"$stderr")" 1
  run -3 dtbus config test --strict
  assert_line --partial "error: brokers.tls.config.verify_cert: TLS certificate verification is off"
}

@test "invalid UTF-8 is an error at its file:line:column, in the file or from the environment" {
  printf 'brokers:\n  a:\n    config:\n      topic_prefix: "caf\xe9/"\n' >latin1.yaml
  run -3 dtbus config test -c latin1.yaml
  assert_line "latin1.yaml:4:25: error: invalid UTF-8 (byte 0xe9): YAML files must be UTF-8"
  run -3 --separate-stderr dtbus pub -c latin1.yaml -t x -m x
  [[ $stderr == *"latin1.yaml:4:25: error: invalid UTF-8 (byte 0xe9)"* ]]
  printf 'brokers:\n  a:\n    config:\n      topic_prefix: "${PREFIX}/"\n' >env.yaml
  PREFIX=$'caf\xe9' run -3 dtbus config test -c env.yaml
  assert_line --partial "env.yaml:4:21: error: brokers.a.config.topic_prefix: value is not valid UTF-8 after"
  PREFIX=café run -0 dtbus config test -c env.yaml
}

@test "nesting too deep says so, not 'bad file'" {
  {
    printf 'brokers:\n  a:\n    x-deep: '
    printf '%.0s[' {1..3000}
    printf '%.0s]' {1..3000}
    printf '\n'
  } >deep.yaml
  run -3 dtbus config test -c deep.yaml
  assert_output --regexp 'deep\.yaml:[0-9]+:[0-9]+: error: nesting too deep'
  refute_output --partial "bad file"
}

@test "a 50 MB config is refused at once, in a few MB of memory" {
  "$DTBUS_PYTHON" - <<'PY'
with open("big.yaml", "w") as f:
    f.write("brokers:\n")
    i = 0
    while f.tell() < 50 * 1024 * 1024:
        f.write(f"  b{i}:\n    type: mqtt\n    config:\n      host: h{i}.example\n      port: 1883\n")
        i += 1
PY
  printf 'brokers:\n  small:\n    config:\n      host: h.example\n' >small.yaml
  # Peak RSS of each child, as wait4 reports it (kB on Linux): the big file's run may take little
  # more than a tiny file's (the baseline also holds a sanitizer's own memory in an ASan build).
  run -0 "$DTBUS_PYTHON" - "$DTBUS_BIN_DIR/dtbus-config" <<'PY'
import os, subprocess, sys
def peak(config):
    child = subprocess.Popen([sys.argv[1], "test", "-c", config], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    out = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    return os.waitstatus_to_exitcode(status), out, usage.ru_maxrss
_, _, baseline = peak("small.yaml")
code, out, big = peak("big.yaml")
print(code)
print(out, end="")
print("baseline_kb=%d" % baseline)
print("maxrss_kb=%d" % big)
PY
  assert_line --index 0 3
  assert_line --partial "big.yaml: error: config file too large (over 1 MiB"
  local rss baseline
  rss=$(sed -n 's/^maxrss_kb=//p' <<<"$output")
  baseline=$(sed -n 's/^baseline_kb=//p' <<<"$output")
  ((rss < baseline + 16384)) || fail "peak RSS ${rss} kB (a tiny config: ${baseline} kB)"
  # Through a pipe, where no size is known beforehand, too.
  run -3 dtbus config test -c <(cat big.yaml)
  assert_output --partial "config file too large"
}

@test "--connect with -H/-p and no config file tests that address; json has broker_info" {
  run -0 dtbus config test --connect -H 127.0.0.1 -p "$BROKER_PLAIN_PORT"
  assert_output --regexp "\(command line\) +127\.0\.0\.1:$BROKER_PLAIN_PORT  connected in [0-9.]+ ms"
  assert_output --partial "(no config file): valid"
  run -0 dtbus config test --connect --url "mqtt://127.0.0.1:$BROKER_PLAIN_PORT" -o json
  jq -e '.file == null and .valid == true and (.brokers | length) == 1' <<<"$output"
  jq -e '.brokers[0].host == "127.0.0.1" and .brokers[0].port == '"$BROKER_PLAIN_PORT" <<<"$output"
  jq -e '.brokers[0].connect.ok == true and .brokers[0].connect.broker_info.protocol == 5' <<<"$output"
  jq -e '.brokers[0].connect.broker_info | has("receive_maximum") and has("maximum_packet_size")' <<<"$output"
  local closed
  closed=$(free_port)
  run -4 dtbus config test --connect -H 127.0.0.1 -p "$closed"
  assert_output --partial "127.0.0.1:$closed"
  # -p alone applies to MQTT_HOST (CELINE's environment), else localhost
  MQTT_HOST=127.0.0.1 run -0 dtbus config test --connect -p "$BROKER_PLAIN_PORT"
  assert_output --regexp "\(command line\) +127\.0\.0\.1:$BROKER_PLAIN_PORT  connected in"
  # without --connect there is nothing to test but a file
  run -3 dtbus config test -H 127.0.0.1 -p "$BROKER_PLAIN_PORT"
}

@test "--connect -b NAME -p PORT shows the address actually used, not the file's" {
  write_config brokers.yaml <<YAML
brokers:
  here: {type: mqtt, config: {host: 127.0.0.1, port: 1}}
YAML
  run -0 dtbus config test --connect -b here -p "$BROKER_PLAIN_PORT" -o json
  jq -e '.brokers[0].port == '"$BROKER_PLAIN_PORT"' and .brokers[0].connect.ok == true' <<<"$output"
  jq -e '.brokers[0].connect.broker_info.maximum_qos == null' <<<"$output"
}
