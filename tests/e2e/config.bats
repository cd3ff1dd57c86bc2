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
