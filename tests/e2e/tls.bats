#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# TLS against real mosquitto listeners with certificates made by openssl at test time: a refused
# server certificate is named by its cause (unknown CA, hostname mismatch, expired, not yet valid)
# with exit 4 (SPEC §2), and the SSL context dtbus hands libmosquitto still does everything a
# good connection needs (CA, client certificate).
# bats file_tags=tls,broker

load helpers/common

# sign_server NAME NOT_BEFORE NOT_AFTER SAN — NAME.crt/NAME.key in $CERTS for CN=localhost, signed
# by the test CA, valid between the two dates (openssl ca -startdate/-enddate: YYYYMMDDHHMMSSZ).
sign_server() {
  local name=$1 start=$2 end=$3 san=$4 work=$CERTS/.ca-$1
  mkdir -p "$work"
  : >"$work/index.txt"
  echo 01 >"$work/serial"
  cat >"$work/ca.cnf" <<EOF
[ca]
default_ca = test_ca
[test_ca]
database = $work/index.txt
new_certs_dir = $work
serial = $work/serial
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
x509_extensions = server
[any]
commonName = supplied
[server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = $san
EOF
  printf '[req]\ndistinguished_name = dn\n[dn]\n' >"$work/req.cnf"
  openssl req -config "$work/req.cnf" -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$CERTS/$name.key" -out "$work/$name.csr" -subj "/CN=localhost" 2>"$work/err" &&
    openssl ca -batch -config "$work/ca.cnf" -cert "$CERTS/ca.crt" -keyfile "$CERTS/ca.key" \
      -in "$work/$name.csr" -out "$CERTS/$name.crt" -startdate "$start" -enddate "$end" \
      -notext 2>>"$work/err" || {
    cat "$work/err" >&2
    return 1
  }
  chmod 600 "$CERTS/$name.key"
}

# serve NAME CERT — a mosquitto whose TLS listener presents $CERTS/CERT.crt.
serve() {
  broker_start "$1" --extra "cafile $CERTS/ca.crt" --extra "certfile $CERTS/$2.crt" \
    --extra "keyfile $CERTS/$2.key" --extra "require_certificate false"
}

setup_file() {
  dtbus_isolate_env
  export CERTS=$BATS_FILE_TMPDIR/certs
  tls_make_certs "$CERTS"
  sign_server expired 20200101000000Z 20200201000000Z "DNS:localhost,IP:127.0.0.1"
  sign_server future 20990101000000Z 21000101000000Z "DNS:localhost,IP:127.0.0.1"
  sign_server elsewhere 20200101000000Z 20900101000000Z "DNS:broker.example.org"
  serve good server
  serve expired expired
  serve future future
  serve elsewhere elsewhere
  broker_start mtls --extra "cafile $CERTS/ca.crt" --extra "certfile $CERTS/server.crt" \
    --extra "keyfile $CERTS/server.key" --extra "require_certificate true"
}

teardown_file() { cleanup_all; }

setup() { dtbus_isolate_env; }

teardown() { cleanup_all; }

# tls_pub PORT [HOST] [dtbus args...] — one QoS 1 message over TLS with the test CA.
tls_pub() {
  local port=$1 host=${2:-localhost}
  shift 2 || shift $#
  dtbus pub -H "$host" -p "$port" --tls --cafile "$CERTS/ca.crt" -q 1 -t e2e/tls -m x "$@"
}

@test "the certificates are what the tests say (openssl's own view)" {
  run -0 openssl x509 -in "$CERTS/expired.crt" -noout -enddate
  assert_output "notAfter=Feb  1 00:00:00 2020 GMT"
  run -0 openssl x509 -in "$CERTS/future.crt" -noout -startdate
  assert_output "notBefore=Jan  1 00:00:00 2099 GMT"
  run ! openssl verify -CAfile "$CERTS/ca.crt" "$CERTS/expired.crt"
  assert_output --partial "certificate has expired"
  run ! openssl verify -CAfile "$CERTS/ca.crt" "$CERTS/future.crt"
  assert_output --partial "not yet valid"
  run -0 openssl verify -CAfile "$CERTS/ca.crt" "$CERTS/elsewhere.crt"
}

@test "TLS: a good server certificate connects (localhost and 127.0.0.1, pub and sub)" {
  bg_start SUB dtbus sub -H localhost -p "$BROKER_GOOD_PORT" --tls --cafile "$CERTS/ca.crt" \
    -t e2e/tls -C 1 -W 20
  broker_wait_subscribed good e2e/tls
  run -0 tls_pub "$BROKER_GOOD_PORT" 127.0.0.1
  run -0 bg_wait SUB
  run -0 cat "$SUB_OUT"
  assert_output --partial '"payload":"x"'
}

@test "TLS: a client certificate is presented where the broker requires one" {
  run -0 tls_pub "$BROKER_MTLS_PORT" localhost --cert "$CERTS/client.crt" --key "$CERTS/client.key"
  run -4 tls_pub "$BROKER_MTLS_PORT" localhost
}

@test "TLS: a server certificate from an unknown CA is exit 4 naming the cause and the issuer" {
  run -4 --separate-stderr dtbus pub -H localhost -p "$BROKER_GOOD_PORT" --tls \
    --cafile "$CERTS/other-ca.crt" -t e2e/tls -m x
  [[ -z $output ]]
  [[ ${#stderr_lines[@]} -eq 1 ]]
  output=$stderr
  assert_output --regexp "^dtbus pub: error: TLS handshake with localhost:$BROKER_GOOD_PORT failed: unknown CA: "
  assert_output --partial "issued by 'dtbus test CA'"
  # sub says the same
  run -4 dtbus sub -H localhost -p "$BROKER_GOOD_PORT" --tls --cafile "$CERTS/other-ca.crt" -t t
  assert_output --partial "unknown CA"
}

@test "TLS: a server certificate for another name is exit 4 naming the names it is for" {
  run -4 tls_pub "$BROKER_ELSEWHERE_PORT" localhost
  assert_output --partial "failed: hostname mismatch: the server certificate is for DNS:broker.example.org, not 'localhost'"
  run -4 tls_pub "$BROKER_ELSEWHERE_PORT" 127.0.0.1
  assert_output --partial "hostname mismatch"
  assert_output --partial "not '127.0.0.1'"
  # --insecure skips the check (and says so elsewhere)
  run -0 tls_pub "$BROKER_ELSEWHERE_PORT" localhost --insecure
}

@test "TLS: an expired server certificate is exit 4 with its end date" {
  run -4 tls_pub "$BROKER_EXPIRED_PORT"
  assert_output --partial "failed: certificate expired: the server certificate was valid until 2020-02-01T00:00:00Z"
  run -4 dtbus sub -H 127.0.0.1 -p "$BROKER_EXPIRED_PORT" --tls --cafile "$CERTS/ca.crt" -t t
  assert_output --partial "certificate expired"
}

@test "TLS: a server certificate not yet valid is exit 4 with its start date" {
  run -4 tls_pub "$BROKER_FUTURE_PORT"
  assert_output --partial "failed: certificate not yet valid: the server certificate is valid from 2099-01-01T00:00:00Z"
}

@test "TLS: config test --connect names the cause too" {
  write_config "$XDG_CONFIG_HOME/dtbus/brokers.yaml" <<YAML
brokers:
  old:
    type: mqtt
    config:
      host: localhost
      port: $BROKER_EXPIRED_PORT
      use_tls: true
      ca_certs: $CERTS/ca.crt
YAML
  run -4 dtbus config test --connect
  assert_output --partial "certificate expired"
}
