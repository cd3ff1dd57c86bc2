#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# `dtbus sub --validate` agrees with the source systems. A corpus of tracker events (valid and
# invalid, each rule both ways; tests/fixtures/seed_validate/tracker_corpus.py) goes through a
# real mosquitto to BOTH TaylorDash's processor as its document writes it (validate_event and
# _process_message under /usr/bin/python3, Python 3.11) and `dtbus sub --validate tracker`; their
# verdicts must agree on every event: valid, validation error, or processing error.

load helpers/common

FIXTURES=$DTBUS_SOURCE_DIR/tests/fixtures/seed_validate
SEED_PY=/usr/bin/python3

setup_file() {
  dtbus_isolate_env
  broker_start main
}

teardown_file() { cleanup_all; }

setup() {
  dtbus_isolate_env
  T=t$BATS_TEST_NUMBER
  P=$BROKER_MAIN_PORT
}

teardown() { cleanup_all; }

@test "--validate tracker agrees with TaylorDash's validate_event and processor on every corpus event" {
  n=$("$SEED_PY" "$FIXTURES/tracker_corpus.py" count)
  ((n >= 30))
  bg_start SEED "$SEED_PY" "$FIXTURES/taylordash_processor.py" --port "$P" --topic "$T/events/#" \
    --count "$n" --out seed.jsonl
  bg_start SUB dtbus sub -H 127.0.0.1 -p "$P" -t "$T/events/#" -q 1 -C "$n" -W 30 -o json \
    --validate tracker
  broker_wait_subscribed main "$T/events/#" 2
  run -0 "$SEED_PY" "$FIXTURES/tracker_corpus.py" publish --port "$P" --base "$T/events" \
    --names names.tsv
  run -0 bg_wait SEED 30
  run -0 bg_wait SUB 30
  cp "$SUB_OUT" dtbus.jsonl
  # Verdicts by event: dtbus "valid": true / errors that are validation errors / exactly one
  # "processing error: ..." against the seed's mirrored / "Validation errors" / "Processing error".
  run "$SEED_PY" - "$n" <<'PY'
import json, sys
n = int(sys.argv[1])
names = dict(line.rstrip("\n").split("\t", 1) for line in open("names.tsv"))
def index(topic): return topic.rsplit("/", 1)[1]
seed = {index(r["topic"]): r for r in map(json.loads, open("seed.jsonl"))}
mine = {index(r["topic"]): r for r in map(json.loads, open("dtbus.jsonl"))}
assert len(seed) == n and len(mine) == n, (len(seed), len(mine), n)
def verdict(r):
    if r["valid"]: return "valid"
    processing = [e for e in r["errors"] if e.startswith("processing error: ")]
    if processing:
        assert len(r["errors"]) == 1, r["errors"]
        return "processing"
    return "validation"
bad = 0
counts = {}
for i in sorted(seed, key=int):
    s, d = seed[i]["verdict"], verdict(mine[i])
    counts[s] = counts.get(s, 0) + 1
    if s != d:
        bad += 1
        print(f"DISAGREE {i} {names[i]}: seed {s} ({seed[i]['reason']}), dtbus {d} {mine[i]['errors']}")
print("agree" if bad == 0 else f"{bad} disagreements", sorted(counts.items()))
PY
  echo "$output"
  assert_output --regexp "^agree \[\('processing', [0-9]+\), \('valid', [0-9]+\), \('validation', [0-9]+\)\]$"
  # Each verdict occurs often (each rule both ways), not just one.
  python3 -c 'import re,sys; c=[int(x) for x in re.findall(r"\d+", sys.argv[1])]; assert min(c) >= 10, c' "$output"
}

@test "--validate tracker in text output marks a processing error with its reason" {
  bg_start SUB dtbus sub -H 127.0.0.1 -p "$P" -t "$T/e" -C 3 -W 30 -o text --validate tracker
  broker_wait_subscribed main "$T/e"
  mosquitto_pub -h 127.0.0.1 -p "$P" -t "$T/e" -m '{"trace_id": 7, "ts": "2025-01-15", "kind": "k", "idempotency_key": "i"}'
  mosquitto_pub -h 127.0.0.1 -p "$P" -t "$T/e" -m '{"trace_id": "{550e8400e29b41d4a716446655440000}", "ts": "2025-01-15", "kind": "k", "idempotency_key": null}'
  mosquitto_pub -h 127.0.0.1 -p "$P" -t "$T/e" -m '{"trace_id": "550e8400e29b41d4a716446655440000", "ts": "2025-01-15", "kind": "k"}'
  run -0 bg_wait SUB
  run cat "$SUB_OUT"
  assert_line --index 0 --partial 'invalid: processing error: "trace_id" is not a string'
  assert_line --index 1 --partial '✓ valid'
  assert_line --index 2 --partial 'invalid: missing required field(s): idempotency_key'
}

@test "--validate dt accepts what a CELINE producer publishes and marks what its broker cannot parse" {
  bg_start SUB dtbus sub -H 127.0.0.1 -p "$P" -t "$T/dt/#" -q 1 -C 4 -W 30 -o json --validate dt
  broker_wait_subscribed main "$T/dt/#"
  # A CELINE DT app's event (seed 000, "Base Event Structure"), json.dumps'ed with a Python
  # aware datetime's isoformat(); then one without a zone, one missing @type, one not an object.
  run -0 "$SEED_PY" - "$P" "$T/dt" <<'PY'
import json, sys, uuid
from datetime import datetime, timezone
import paho.mqtt.client as mqtt
port, base = int(sys.argv[1]), sys.argv[2]
event = {"@context": "https://celine-project.eu/contexts/dt-event.jsonld",
         "@type": "dt.ev-charging.readiness-computed", "id": str(uuid.uuid4()),
         "source": {"app_key": "ev-charging.readiness", "app_version": "1.0.0", "module": "ev-charging"},
         "timestamp": datetime.now(timezone.utc).isoformat(), "correlation_id": None,
         "payload": {"indicator": "OPTIMAL"}, "metadata": {}}
naive = dict(event, timestamp=datetime.now().isoformat())
untyped = {k: v for k, v in event.items() if k != "@type"}
c = mqtt.Client()
c.connect("127.0.0.1", port)
c.loop_start()
for i, body in enumerate([json.dumps(event), json.dumps(naive), json.dumps(untyped), json.dumps([event])]):
    c.publish(f"{base}/{i}", body, qos=1).wait_for_publish(10)
c.disconnect()
c.loop_stop()
PY
  run -0 bg_wait SUB
  run python3 -c 'import json,sys
for l in open(sys.argv[1]):
    r = json.loads(l); print(r["valid"], r["errors"])' "$SUB_OUT"
  assert_output "True []
True []
False ['missing required field(s): @type']
False ['processing error: payload is not a JSON object']"
}
