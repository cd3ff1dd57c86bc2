#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# CELINE's brokers.yaml, as its document (seed 000) writes it, under the environment that document
# defines (MQTT_HOST, MQTT_PORT, MQTT_USERNAME, MQTT_PASSWORD): against a broker with a login
# (mosquitto_passwd users) and an anonymous one, with a consumer configured as CELINE's MqttConfig.

load helpers/common

setup_file() {
  dtbus_isolate_env
  broker_start anon
  broker_start login --password
}

teardown_file() {
  broker_stop_all
  cleanup_all
}

setup() {
  dtbus_isolate_env
  # The seed document's brokers.yaml, verbatim, where CELINE keeps it: found with no -c.
  mkdir -p config
  cp "$DTBUS_SOURCE_DIR/tests/fixtures/config/celine-brokers.yaml" config/brokers.yaml
}

teardown() {
  cleanup_all
}

consumer=$DTBUS_SOURCE_DIR/tests/fixtures/config/celine_consumer.py

# celine_roundtrip BROKER TOPIC — a CELINE-style consumer on celine/dt/TOPIC (the file's
# topic_prefix), then `dtbus pub -q 1 -t TOPIC` with no flags but the topic: the consumer must get
# it. Runs under the caller's MQTT_* environment.
celine_roundtrip() {
  local broker=$1 topic=$2 message="hello-$RANDOM"
  bg_start CONSUMER /usr/bin/python3 "$consumer" "celine/dt/$topic"
  broker_wait_subscribed "$broker" "celine/dt/$topic"
  run -0 --separate-stderr dtbus pub -q 1 -t "$topic" -m "$message"
  bg_wait CONSUMER 20
  run -0 cat "$CONSUMER_OUT"
  assert_output "celine/dt/$topic $message"
}

@test "with a login: MQTT_USERNAME and MQTT_PASSWORD fill the entry, pub and sub work" {
  export MQTT_HOST=127.0.0.1 MQTT_PORT=$BROKER_LOGIN_PORT
  export MQTT_USERNAME=$BROKER_LOGIN_USER MQTT_PASSWORD=$BROKER_LOGIN_PASSWORD
  celine_roundtrip login login/pub
  [[ $stderr != *"$MQTT_PASSWORD"* ]]

  # dtbus sub under the same environment receives from a producer under it too.
  bg_start SUB dtbus sub -t login/sub -C 1 -W 20 -o json
  broker_wait_subscribed login celine/dt/login/sub
  run -0 dtbus pub -q 1 -t login/sub -m '{"n":1}'
  bg_wait SUB 20
  run -0 "$DTBUS_PYTHON" -c 'import json, sys; m = json.load(sys.stdin); print(m["topic"], m["payload"]["n"])' <"$SUB_OUT"
  assert_output "celine/dt/login/sub 1"

  run -0 dtbus config test --connect
  assert_output --regexp "mqtt_local +127\.0\.0\.1:$BROKER_LOGIN_PORT \(default\)  connected in"
  # The variables are what logs in: a wrong password is refused (exit 5), none at all too.
  MQTT_PASSWORD=wrong-$RANDOM run -5 dtbus pub -q 1 -t login/x -m x
  unset MQTT_USERNAME MQTT_PASSWORD
  run -5 dtbus pub -q 1 -t login/x -m x
}

@test "without a login: MQTT_PASSWORD alone is ignored with a -v note, never an error" {
  export MQTT_HOST=127.0.0.1 MQTT_PORT=$BROKER_ANON_PORT MQTT_PASSWORD=unused-$RANDOM
  celine_roundtrip anon anon/pub
  assert_equal "$stderr" ""
  run -0 --separate-stderr dtbus pub -v -q 1 -t anon/x -m x
  [[ $stderr == *"MQTT_PASSWORD ignored: no username"* ]]
  [[ $stderr != *"$MQTT_PASSWORD"* ]]
  run -0 dtbus config test --connect
  assert_output --partial "connected in"
}

@test "without a login: MQTT_USERNAME and MQTT_PASSWORD set for an anonymous broker still work" {
  export MQTT_HOST=127.0.0.1 MQTT_PORT=$BROKER_ANON_PORT MQTT_USERNAME=svc MQTT_PASSWORD=pw-$RANDOM
  celine_roundtrip anon anon/both
}

@test "no config file at all: the environment names the broker" {
  rm -r config
  export MQTT_HOST=127.0.0.1 MQTT_PORT=$BROKER_LOGIN_PORT
  export MQTT_USERNAME=$BROKER_LOGIN_USER MQTT_PASSWORD=$BROKER_LOGIN_PASSWORD
  bg_start SUB dtbus sub -t plain/t -C 1 -W 20 -o raw
  broker_wait_subscribed login plain/t
  run -0 dtbus pub -q 1 -t plain/t -m no-config
  bg_wait SUB 20
  run -0 cat "$SUB_OUT"
  assert_output "no-config"
  # Flags still win: -p to the anonymous broker, whatever MQTT_PORT says.
  run -0 dtbus pub -q 1 -p "$BROKER_ANON_PORT" -t plain/t -m flag
  MQTT_PORT=abc run -3 dtbus pub -q 1 -t plain/t -m x
  assert_output --partial 'MQTT_PORT: expected integer 1..65535, got "abc"'
}

@test "the document's username/password entry with only MQTT_PASSWORD: a warning, then anonymous" {
  cp "$DTBUS_SOURCE_DIR/tests/fixtures/config/celine-auth-brokers.yaml" config/brokers.yaml
  export MQTT_PASSWORD=unused-$RANDOM
  run -0 --separate-stderr dtbus pub -v -q 1 -H 127.0.0.1 -p "$BROKER_ANON_PORT" -b mqtt_local \
    -t auth/x -m x
  [[ $stderr == *'brokers.mqtt_local.config.username: ${MQTT_USERNAME} is not set'* ]]
  [[ $stderr == *"the password of broker 'mqtt_local' ignored: no username"* ]]
  [[ $stderr != *"$MQTT_PASSWORD"* ]]
}

@test "a password given as a flag without a user name is still a usage error" {
  export MQTT_HOST=127.0.0.1 MQTT_PORT=$BROKER_ANON_PORT
  run -2 dtbus pub -P secret-flag -t x -m x
  assert_output --partial "a password was given without a username"
  refute_output --partial "secret-flag"
}

@test "warnings about unset variables concern the broker in use; config test reports them all" {
  write_config config/brokers.yaml <<YAML
brokers:
  used:
    type: mqtt
    config: {host: 127.0.0.1, port: $BROKER_ANON_PORT}
  other:
    type: mqtt
    config: {host: "\${OTHER_HOST}", username: "\${OTHER_USER}"}
token_providers:
  unused:
    token_url: "\${UNUSED_TOKEN_URL:-https://idp.example/token}"
    client_id: ops
    scope: "\${UNUSED_SCOPE}"
default_broker: used
YAML
  run -0 --separate-stderr dtbus pub -q 1 -t w/x -m x
  assert_equal "$stderr" ""
  run -0 --separate-stderr dtbus pub -q 1 -b used -t w/x -m x
  assert_equal "$stderr" ""
  # The other entry, when used, warns about its own variables only.
  run -4 --separate-stderr dtbus pub -q 1 -b other -p "$(free_port)" --connect-timeout 2 -t w/x -m x
  [[ $stderr == *'${OTHER_HOST} is not set'* ]]
  [[ $stderr != *UNUSED_SCOPE* ]]
  run -0 dtbus config test
  assert_output --partial 'brokers.other.config.host: ${OTHER_HOST} is not set'
  assert_output --partial 'brokers.other.config.username: ${OTHER_USER} is not set'
  assert_output --partial 'token_providers.unused.scope: ${UNUSED_SCOPE} is not set'
}
