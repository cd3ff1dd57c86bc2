#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# dtbus rr against a real mosquitto and a paho-mqtt responder (tests/fixtures/rr_responder.py):
# MQTT 5 response topic + correlation data, -C, -W (exit 6), output formats, -V 311.

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
  write_config "$XDG_CONFIG_HOME/dtbus/brokers.yaml" <<EOF
brokers:
  main:
    type: mqtt
    config:
      host: 127.0.0.1
      port: $P
default_broker: main
EOF
}

teardown() { cleanup_all; }

# responder ARGS... — the paho responder on $T/req, subscribed before returning
responder() {
  bg_start R /usr/bin/python3 "$DTBUS_SOURCE_DIR/tests/fixtures/rr_responder.py" 127.0.0.1 "$P" "$T/req" "$@"
  wait_for_line "$R_OUT" '^ready$' 20
}

@test "MQTT 5: the response comes back with our correlation data (json)" {
  responder
  run -0 --separate-stderr dtbus rr -t "$T/req" -e "$T/resp" -m ping -q 1 -W 10 -o json
  run python3 -c 'import json,sys
r = json.loads(sys.argv[1])
print(r["topic"], r["payload"], r["properties"]["correlation_data"] != "")' "$output"
  assert_output "$T/resp echo: ping True"
}

@test "--correlation-data is sent; a response with other correlation data is skipped" {
  responder --wrong-correlation
  run -0 --separate-stderr dtbus rr -t "$T/req" -e "$T/resp" -m x -W 10 -o json --correlation-data abc123
  run python3 -c 'import base64,json,sys
lines = sys.argv[1].splitlines()
print(len(lines), json.loads(lines[0])["payload"], base64.b64decode(json.loads(lines[0])["properties"]["correlation_data"]).decode())' "$output"
  assert_output "1 echo: x abc123"
}

@test "-C N waits for N responses; raw and -F output" {
  responder --copies 3
  run -0 --separate-stderr dtbus rr -t "$T/req" -e "$T/resp" -m hi -C 3 -W 10 -o raw
  assert_output "echo: hi
echo: hi
echo: hi"
  run -0 --separate-stderr dtbus rr -t "$T/req" -e "$T/resp" -m hi -C 2 -W 10 -F '{topic}|{payload}|{qos}'
  assert_output "$T/resp|echo: hi|0
$T/resp|echo: hi|0"
}

@test "-W without a response exits 6 naming the topic; -C not reached says how many came" {
  run -6 --separate-stderr dtbus rr -t "$T/req" -e "$T/resp" -m nobody -W 0.5 -q 1
  assert_output ""
  [[ $stderr == *"error: no response on $T/resp within 0.5 s"* ]]
  responder --copies 1
  run -6 --separate-stderr dtbus rr -t "$T/req" -e "$T/resp" -m x -C 2 -W 1 -o raw
  assert_output "echo: x"
  [[ $stderr == *"only 1 of 2 responses on $T/resp within 1 s"* ]]
}

@test "-V 311: no properties, the response topic is subscribed before the request goes out" {
  responder --v311 "$T/resp"
  run -0 --separate-stderr dtbus rr -V 311 -t "$T/req" -e "$T/resp" -m old -W 10 -o json
  run python3 -c 'import json,sys; r = json.loads(sys.argv[1]); print(r["payload"], "properties" in r)' "$output"
  assert_output "echo: old False"
}

@test "a stale retained message on the response topic is not taken for the response" {
  mosquitto_pub -h 127.0.0.1 -p "$P" -t "$T/resp" -m stale -r
  responder
  run -0 --separate-stderr dtbus rr -t "$T/req" -e "$T/resp" -m fresh -W 10 -o raw
  assert_output "echo: fresh"
  mosquitto_pub -h 127.0.0.1 -p "$P" -t "$T/resp" -r -n
}

@test "usage errors: no payload, two payloads, a wildcard response topic" {
  run -2 --separate-stderr dtbus rr -t "$T/req" -e "$T/resp"
  run -2 --separate-stderr dtbus rr -t "$T/req" -e "$T/resp" -m a -n
  run -2 --separate-stderr dtbus rr -t "$T/req" -e "$T/#" -m a
  [[ $stderr == *"$T/#"* ]]
}

@test "-f sends the file's bytes as the request" {
  responder --prefix ""
  printf 'line1\nline2' >req.txt
  run -0 --separate-stderr dtbus rr -t "$T/req" -e "$T/resp" -f req.txt -W 10 -o raw
  assert_output "line1
line2"
}
