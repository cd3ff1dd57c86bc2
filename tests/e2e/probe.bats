#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# dtbus probe against real mosquitto brokers configured with known limits: what it reports must
# equal what the broker was configured with; a failing check is exit 1 naming it.
# bats file_tags=probe,broker

load helpers/common

setup_file() {
  dtbus_isolate_env
  broker_start limits --extra 'max_packet_size 2000' --extra 'max_inflight_messages 7'
  broker_start restricted --extra 'max_qos 1' --extra 'retain_available false'
  # Anonymous clients may write under allowed/ and only read under readonly/.
  local acl=$BATS_FILE_TMPDIR/acl
  printf 'topic readwrite allowed/#\ntopic read readonly/#\ntopic read $SYS/#\n' >"$acl"
  broker_start acl --extra "acl_file $acl"
  broker_start secured --password
  # A TLS listener whose certificate expires in 10 days, signed by the test CA.
  export CERTS=$BATS_FILE_TMPDIR/certs
  tls_make_certs "$CERTS"
  (
    cd "$CERTS" || exit 1
    printf '[req]\ndistinguished_name = dn\n[dn]\n' >soon.cnf
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >soon.ext
    openssl req -config soon.cnf -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
      -keyout soon.key -out soon.csr -subj /CN=localhost 2>/dev/null &&
      openssl x509 -req -in soon.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 10 \
        -extfile soon.ext -out soon.crt 2>/dev/null && chmod 600 soon.key
  )
  broker_start soon --extra "cafile $CERTS/ca.crt" --extra "certfile $CERTS/soon.crt" \
    --extra "keyfile $CERTS/soon.key" --extra "require_certificate false"
  # A TLS-PSK listener: identity dev1, a fresh key.
  export PSK
  PSK=$(printf '%08x%08x%08x%08x' "$SRANDOM" "$SRANDOM" "$SRANDOM" "$SRANDOM")
  audit_secret PSK "$PSK"
  printf 'dev1:%s\n' "$PSK" >"$BATS_FILE_TMPDIR/psk_file"
  audit_allow "$BATS_FILE_TMPDIR/psk_file"
  broker_start psk --extra "psk_hint dtbus-probe" --extra "psk_file $BATS_FILE_TMPDIR/psk_file"
}

teardown_file() { cleanup_all; }

setup() { dtbus_isolate_env; }

teardown() { cleanup_all; }

# The PSK with its last hex digit changed.
wrong_psk() { if [[ $PSK == *0 ]]; then echo "${PSK%?}1"; else echo "${PSK%?}0"; fi; }

@test "probe: every check passes and the declared limits are the broker's (-o json)" {
  run -0 --separate-stderr dtbus probe -H 127.0.0.1 -p "$BROKER_LIMITS_PORT" --count 10 -o json
  jq -e . <<<"$output" >/dev/null
  jq -e '.ok == true and .failed == [] and .connection.ok == true' <<<"$output"
  jq -e '.address == "127.0.0.1:'"$BROKER_LIMITS_PORT"'" and .connection.protocol == 5' <<<"$output"
  jq -e '.connection.tls == null and .connection.auth == "anonymous"' <<<"$output"
  jq -e '.broker_info.receive_maximum == 7 and .broker_info.maximum_packet_size == 2000' <<<"$output"
  jq -e '.broker_info.maximum_qos == null and .broker_info.retain_available == null' <<<"$output"
  for check in qos0 qos1 qos2 retain wildcards shared payload mqtt5 mqtt311 mqtt31 sys latency; do
    jq -e --arg c "$check" '.checks[$c].status == "pass"' <<<"$output" || fail "$check did not pass"
  done
  jq -e '.checks.certificate.status == "skip"' <<<"$output"
  # the payload limit lies just under the maximum packet size (headers and topic take the rest)
  jq -e '.checks.payload.largest_bytes < 2000 and .checks.payload.largest_bytes > 1900' <<<"$output"
  jq -e '.checks.payload.cap_reached == false' <<<"$output"
  jq -e '.checks.sys.version | startswith("mosquitto version")' <<<"$output"
  jq -e '.checks.latency.qos0.count == 10 and .checks.latency.qos1.count == 10' <<<"$output"
  jq -e '.checks.latency.qos1 | .p50_ms <= .p90_ms and .p90_ms <= .p99_ms and .p99_ms <= .max_ms' <<<"$output"
  # the retained test message was cleared: nothing is left under the test topic
  local topic
  topic=$(jq -r .test_topic <<<"$output")
  run -6 dtbus sub -H 127.0.0.1 -p "$BROKER_LIMITS_PORT" -t "$topic/#" -W 1
}

@test "probe: the human report names the declared values" {
  run -0 dtbus probe -H 127.0.0.1 -p "$BROKER_LIMITS_PORT" --check payload --check qos1
  assert_line --regexp '^  receive maximum +7$'
  assert_line --regexp '^  maximum packet size +2000$'
  assert_line --regexp '^  maximum QoS +2 \(not declared\)$'
  assert_line --regexp '^  pass  payload +19[0-9][0-9] bytes, maximum packet size 2000 bytes$'
  assert_line --regexp '^  pass  qos1 +round trip'
  refute_line --partial 'latency'
}

@test "probe -V 311: nothing declared, the payload limit is found by the broker closing the link" {
  run -0 --separate-stderr dtbus probe -H 127.0.0.1 -p "$BROKER_LIMITS_PORT" -V 311 \
    --check payload --check qos1 -o json
  jq -e '.connection.protocol == 311 and .broker_info.protocol == 311' <<<"$output"
  jq -e '.broker_info.maximum_packet_size == null and .broker_info.receive_maximum == null' <<<"$output"
  jq -e '.checks.payload.largest_bytes < 2000 and .checks.payload.largest_bytes > 1900' <<<"$output"
  jq -e '.checks.payload.connection_drops > 0 and .checks.qos1.status == "pass"' <<<"$output"
  # the expected disconnects are not reported as warnings
  [[ $stderr != *"lost"* ]]
}

@test "probe: max_qos 1 and retain_available false are reported and their checks skipped" {
  run -0 --separate-stderr dtbus probe --url "mqtt://127.0.0.1:$BROKER_RESTRICTED_PORT" --count 5 -o json
  jq -e '.broker_info.maximum_qos == 1 and .broker_info.retain_available == false' <<<"$output"
  jq -e '.checks.qos2.status == "skip" and .checks.retain.status == "skip"' <<<"$output"
  jq -e '.checks.qos1.status == "pass" and .ok == true' <<<"$output"
  jq -e '.checks.latency.qos1.count == 5' <<<"$output"
  # no declared packet limit: the search stops at the cap
  run -0 --separate-stderr dtbus probe -H 127.0.0.1 -p "$BROKER_RESTRICTED_PORT" --check payload \
    --max-payload-check 100000 -o json
  jq -e '.checks.payload | .largest_bytes == 100000 and .cap_reached == true' <<<"$output"
  jq -e '.broker_info.maximum_packet_size == null' <<<"$output"
}

@test "probe: a failing check is exit 1 naming every failed check" {
  run -1 --separate-stderr dtbus probe -H 127.0.0.1 -p "$BROKER_ACL_PORT" --topic readonly/probe \
    --check qos1 --check retain --check mqtt311 --timeout 1
  [[ $stderr == *"dtbus probe: error: 2 checks failed: qos1, retain"* ]]
  assert_line --regexp '^  fail  qos1 '
  assert_line --regexp '^  pass  mqtt311 '
  assert_line --partial 'failed: qos1, retain'
  run -1 --separate-stderr dtbus probe -H 127.0.0.1 -p "$BROKER_ACL_PORT" --topic readonly/probe \
    --check qos0 --timeout 1 -o json
  jq -e '.ok == false and .failed == ["qos0"] and .checks.qos0.status == "fail"' <<<"$output"
  run -0 dtbus probe -H 127.0.0.1 -p "$BROKER_ACL_PORT" --topic allowed/probe \
    --check qos1 --check retain
}

@test "probe: SIGINT while a check waits ends it at once with exit 130" {
  bg_start PROBE dtbus probe -H 127.0.0.1 -p "$BROKER_ACL_PORT" --topic readonly/sigint \
    --check qos1 --timeout 60
  wait_for_line "$BROKER_ACL_LOG" 'readonly/sigint/.*/qos1'
  kill -INT "$PROBE"
  run bg_wait PROBE 10
  [[ $status == 130 ]]
}

@test "probe: cannot connect is exit 4 (with a JSON object), refused credentials exit 5" {
  local closed
  closed=$(free_port)
  run -4 --separate-stderr dtbus probe -H 127.0.0.1 -p "$closed" -o json
  jq -e '.connection.ok == false and (.connection.error | contains("Connection refused"))' <<<"$output"
  [[ $stderr == *"dtbus probe: error: cannot connect"* ]]
  run -5 --separate-stderr dtbus probe -H 127.0.0.1 -p "$BROKER_SECURED_PORT" -u alice -P wrong-password-1
  run -0 --separate-stderr dtbus probe -H 127.0.0.1 -p "$BROKER_SECURED_PORT" -u alice \
    -P "$BROKER_SECURED_PASSWORD" --check qos1 --check mqtt31 -o json
  jq -e '.connection.auth == "username alice" and .ok == true' <<<"$output"
  [[ $output != *"$BROKER_SECURED_PASSWORD"* && $stderr != *"$BROKER_SECURED_PASSWORD"* ]]
}

@test "probe: unknown --check is a usage error" {
  run -2 dtbus probe -H 127.0.0.1 -p "$BROKER_LIMITS_PORT" --check nonsense
}

@test "probe: TLS facts of the server certificate; expiry in 10 days warns under 30" {
  run -0 --separate-stderr dtbus probe -H localhost -p "$BROKER_SOON_PORT" --cafile "$CERTS/ca.crt" \
    --check certificate --check qos1 -o json
  jq -e '.connection.tls.subject == "CN=localhost" and .connection.tls.issuer == "CN=dtbus test CA"' <<<"$output"
  jq -e '.connection.tls.alt_names == ["DNS:localhost", "IP:127.0.0.1"]' <<<"$output"
  jq -e '.connection.tls.verified == true and (.connection.tls.protocol | startswith("TLSv1."))' <<<"$output"
  jq -e '.connection.tls.cipher | length > 0' <<<"$output"
  jq -e '.connection.tls.days_left == 9 or .connection.tls.days_left == 10' <<<"$output"
  jq -e '.checks.certificate.status == "warn" and .ok == true' <<<"$output"
  [[ $stderr == *"warning: certificate: expires in "* ]]
  # openssl's own view of the same end date
  local end
  end=$(openssl x509 -in "$CERTS/soon.crt" -noout -enddate | cut -d= -f2)
  jq -e --arg d "$(date -u -d "$end" +%Y-%m-%dT%H:%M:%S)" '.connection.tls.not_after | startswith($d)' <<<"$output"
  run -0 --separate-stderr dtbus probe -H localhost -p "$BROKER_SOON_PORT" --cafile "$CERTS/ca.crt" \
    --check certificate --cert-warn-days 5
  assert_line --regexp '^  pass  certificate +expires in (9|10) days$'
  assert_line --regexp '^  certificate alt names +DNS:localhost, IP:127\.0\.0\.1$'
  [[ -z $stderr ]]
  # a CA that did not sign it: the handshake is refused, exit 4
  run -4 dtbus probe -H localhost -p "$BROKER_SOON_PORT" --cafile "$CERTS/other-ca.crt"
}

@test "probe: a TLS-PSK listener: TLS protocol and cipher, no certificate, the PSK identity as auth" {
  # every check (the protocol checks make their own PSK connections)
  run -0 --separate-stderr dtbus probe -H 127.0.0.1 -p "$BROKER_PSK_PORT" --psk "$PSK" --psk-identity dev1 -o json
  jq -e '.connection.auth == "TLS-PSK identity dev1" and .ok == true' <<<"$output"
  jq -e '(.connection.tls.protocol | startswith("TLSv1.")) and (.connection.tls.cipher | length > 0)' <<<"$output"
  jq -e '.connection.tls.subject == null and .connection.tls.days_left == null and .connection.tls.verified == true' <<<"$output"
  jq -e '.checks.certificate.status == "skip" and .checks.qos1.status == "pass"' <<<"$output"
  run -0 --separate-stderr dtbus probe -H 127.0.0.1 -p "$BROKER_PSK_PORT" --psk "$PSK" --psk-identity dev1 --check qos1
  assert_line --regexp '^  auth +TLS-PSK identity dev1$'
  assert_line --regexp '^  TLS +TLSv1\.[23], [A-Z0-9_-]+$'
  # a wrong key: the handshake fails, exit 4
  run -4 --separate-stderr dtbus probe -H 127.0.0.1 -p "$BROKER_PSK_PORT" --psk "$(wrong_psk)" --psk-identity dev1
  [[ $stderr == *"TLS-PSK identity 'dev1': a wrong key or unknown identity fails here"* ]]
}

# --- the link to the broker lost in the middle of a check --------------------------------------
# (a broker of its own per test: it is killed or restarted while the probe runs)

# probe_in_qos1 TOPIC ARGS... — dtbus probe ARGS on the broker "doomed" under readonly/TOPIC,
# where the qos1 echo never comes: returns once it subscribed there, so it waits in qos1.
probe_in_qos1() {
  local topic=readonly/$1
  shift
  bg_start PROBE dtbus probe -H 127.0.0.1 -p "$BROKER_DOOMED_PORT" --topic "$topic" --check qos1 \
    --timeout 60 "$@"
  wait_for_line "$BROKER_DOOMED_LOG" "$topic/.*/qos1"
}

# probe_failed — waits for the probe started by probe_in_qos1 (or bg_start PROBE): exit 1.
probe_failed() {
  run bg_wait PROBE 30
  [[ $status == 1 ]] || fail "exit $status, wanted 1: $(cat "$PROBE_ERR")"
}

@test "probe: broker killed during a check: it fails, the rest are not run, the JSON still comes" {
  broker_start doomed --extra "acl_file $BATS_FILE_TMPDIR/acl"
  probe_in_qos1 lost --check qos2 --check mqtt311 --connect-timeout 1 -o json
  broker_stop doomed --kill
  probe_failed
  local out
  out=$(cat "$PROBE_OUT")
  jq -e '.ok == false and .failed == ["qos1"] and .connection.ok == true' <<<"$out"
  jq -e '.checks.qos1.status == "fail" and (.checks.qos1.detail | startswith("connection lost: "))' <<<"$out"
  jq -e '.checks.qos1.detail | endswith("(not back within 1 s)")' <<<"$out"
  for check in qos2 mqtt311; do
    jq -e --arg c "$check" '.checks[$c] == {"status": "skip",
      "detail": "not run: the connection was lost during qos1 and not back within 1 s"}' <<<"$out" ||
      fail "$check: $(jq -c --arg c "$check" '.checks[$c]' <<<"$out")"
  done
  grep -q 'dtbus probe: error: 1 check failed: qos1$' "$PROBE_ERR"
  # the same in the human report, on the broker started again
  broker_restart doomed
  probe_in_qos1 lost2 --check qos2 --check mqtt311 --connect-timeout 1
  broker_stop doomed --kill
  probe_failed
  run cat "$PROBE_OUT"
  assert_line --regexp '^  fail  qos1 +connection lost: .+ \(not back within 1 s\)$'
  assert_line --regexp '^  skip  mqtt311 +not run: the connection was lost during qos1 '
  assert_line 'Result: 0 passed, 0 warned, 0 skipped, 2 not run, 1 failed: qos1'
}

@test "probe: broker killed during the latency series (probe -v names each check)" {
  broker_start doomed
  bg_start PROBE dtbus probe -v -H 127.0.0.1 -p "$BROKER_DOOMED_PORT" --check qos1 \
    --check latency --count 100000 --connect-timeout 1
  wait_for_line "$PROBE_ERR" 'dtbus probe: info: running check latency$'
  broker_stop doomed --kill
  probe_failed
  run cat "$PROBE_OUT"
  assert_line --regexp '^  pass  qos1 +round trip '
  assert_line --regexp '^  fail  latency +connection lost: .+ \(not back within 1 s\)$'
  assert_line 'Result: 1 passed, 0 warned, 0 skipped, 1 failed: latency'
  grep -q 'dtbus probe: error: 1 check failed: latency$' "$PROBE_ERR"
}

@test "probe: broker restarted during a check: it fails, the checks after it run on the new link" {
  broker_start doomed --extra "acl_file $BATS_FILE_TMPDIR/acl"
  probe_in_qos1 back --check mqtt311 -o json
  broker_restart doomed
  probe_failed
  local out
  out=$(cat "$PROBE_OUT")
  jq -e '.failed == ["qos1"] and .checks.mqtt311.status == "pass"' <<<"$out"
  jq -e '.checks.qos1.detail | startswith("connection lost: ") and endswith(" (reconnected)")' <<<"$out"
}

@test "probe: broker frozen (SIGSTOP) during a check: the keepalive notices, it fails, the rest are not run" {
  broker_start doomed --extra "acl_file $BATS_FILE_TMPDIR/acl"
  # -k 5 (libmosquitto's least): a silent broker is noticed within two keepalives
  probe_in_qos1 frozen --check qos2 --check mqtt5 -k 5 --connect-timeout 1 -o json
  broker_pause doomed
  probe_failed
  broker_resume doomed
  local out
  out=$(cat "$PROBE_OUT")
  jq -e '.ok == false and .failed == ["qos1"]' <<<"$out"
  jq -e '.checks.qos1.detail | startswith("connection lost: no answer from the broker within the keepalive (5 s)") and endswith("(not back within 1 s)")' <<<"$out"
  jq -e '[.checks.qos2, .checks.mqtt5] | all(.status == "skip" and (.detail | startswith("not run: ")))' <<<"$out"
}
