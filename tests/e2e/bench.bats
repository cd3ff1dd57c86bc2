#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# dtbus bench against a real mosquitto: exact counts at QoS 1 and 2, a frozen broker in the
# latency tail (coordinated omission corrected), a restart reported as reconnects and QoS 0
# losses, --compare gating on a doctored baseline, and the documented JSON shape.

load helpers/common

setup_file() {
  dtbus_isolate_env
  broker_start main
}

teardown_file() { cleanup_all; }

setup() {
  dtbus_isolate_env
  write_config "$XDG_CONFIG_HOME/dtbus/brokers.yaml" <<EOF
brokers:
  main:
    type: mqtt
    config:
      host: 127.0.0.1
      port: $BROKER_MAIN_PORT
      reconnect_interval: 0.2
default_broker: main
EOF
}

teardown() {
  local rc=0
  [[ -n ${PAUSED:-} ]] && broker_resume main
  cleanup_all || rc=$?
  return "$rc"
}

# figure JSON_FILE JQ_EXPR — prints one value of a result.
figure() { jq -r "$2" "$1"; }

@test "bench: counts are exact at QoS 1 (2 publishers, 2 subscribers)" {
  run -0 dtbus bench --publishers 2 --subscribers 2 -q 1 -n 2000 -o json
  echo "$output" >r.json
  [ "$(figure r.json .messages.published)" = 4000 ]
  [ "$(figure r.json .messages.acked)" = 4000 ]
  [ "$(figure r.json .messages.unacked)" = 0 ]
  [ "$(figure r.json .messages.expected)" = 8000 ]
  [ "$(figure r.json .messages.received)" = 8000 ]
  [ "$(figure r.json .messages.lost)" = 0 ]
  [ "$(figure r.json .messages.duplicated)" = 0 ]
  [ "$(figure r.json .messages.out_of_order)" = 0 ]
  [ "$(figure r.json .reconnects)" = 0 ]
  [ "$(figure r.json '.per_publisher | map(.received) | join(",")')" = 4000,4000 ]
  [ "$(figure r.json '.latency_ms.publish_to_ack.count')" = 4000 ]
  [ "$(figure r.json '.latency_ms.end_to_end.count')" = 8000 ]
}

# At most 10 in flight end to end: an open-loop QoS 2 stream to a subscriber lagging behind
# makes mosquitto send more unreleased QoS 2 messages than libmosquitto's receive maximum (20),
# which drops the link with "protocol error" (a broker/client quota mismatch, not ours).
@test "bench: counts are exact at QoS 2, topic per message (%n)" {
  run -0 dtbus bench -q 2 -n 600 --inflight 10 -t "b2/%i/m%n" -o json
  echo "$output" >r.json
  [ "$(figure r.json .parameters.mode)" = max-rate ]
  [ "$(figure r.json .parameters.inflight)" = 10 ]
  [ "$(figure r.json .parameters.filter)" = "b2/+/+" ]
  [ "$(figure r.json .messages.received)" = 600 ]
  [ "$(figure r.json .messages.acked)" = 600 ]
  [ "$(figure r.json '.messages | [.lost, .duplicated, .out_of_order, .foreign] | join(",")')" = 0,0,0,0 ]
  [ "$(figure r.json .latency_ms.publish_to_ack.count)" = 600 ]
}

@test "bench: open loop keeps its rate" {
  run -0 dtbus bench -q 1 -n 600 --rate 2000 -t "ol/%i" -o json
  echo "$output" >r.json
  [ "$(figure r.json .parameters.mode)" = open-loop ]
  [ "$(figure r.json .parameters.rate_per_publisher)" = 2000 ]
  [ "$(figure r.json .messages.received)" = 600 ]
  # 600 messages at 2000/s: 0.3 s of publishing (catching up after a stall never runs faster
  # than the schedule allows on average)
  jq -e '.throughput.publish_msgs_per_s > 1000 and .throughput.publish_msgs_per_s < 2100' r.json
}

@test "bench: a broker frozen 1 s in an open-loop run shows in p99.9 and max" {
  bg_start B dtbus -v bench -q 0 --rate 1000 -d 3 -t frozen/%i -o json
  wait_for_line "$B_ERR" 'publishing:'
  sleep 0.5 # let the schedule run before the stall (this is load, not synchronisation)
  broker_pause main
  PAUSED=1
  sleep 1.1
  broker_resume main
  PAUSED=
  run -0 bg_wait B 30
  jq . "$B_OUT" >r.json
  [ "$(figure r.json .parameters.mode)" = open-loop ]
  # Latency counts from the scheduled time: the messages due during the stall waited for it.
  jq -e '.latency_ms.end_to_end.max >= 1000' r.json
  jq -e '.latency_ms.end_to_end.p99_9 >= 1000' r.json
  jq -e '.latency_ms.end_to_end.p50 < 1000' r.json
  [ "$(figure r.json .messages.lost)" = 0 ]
}

@test "bench: a broker crash and restart is reported as reconnects, QoS 0 losses counted" {
  bg_start B dtbus -v bench -q 0 --rate 500 -d 3 -t restart/%i -o json
  wait_for_line "$B_ERR" 'publishing:'
  sleep 0.5
  # Hung, then killed: what the publisher wrote meanwhile dies in the broker's socket buffers,
  # so some QoS 0 messages are surely lost; then the broker comes back on the same port.
  broker_pause main
  PAUSED=1
  sleep 0.3
  broker_stop main --kill
  PAUSED=
  broker_restart main
  run -0 bg_wait B 30
  jq . "$B_OUT" >r.json
  # both connections lost the link and came back
  jq -e '.reconnects >= 2' r.json
  grep -q 'reconnecting' "$B_ERR"
  # every message is accounted for: received + lost = published, and some were lost
  jq -e '.messages.lost > 0' r.json
  jq -e '.messages.received + .messages.lost == .messages.published' r.json
  jq -e '.messages.published > 1000 and .messages.duplicated == 0' r.json
  jq -e '.per_publisher[0].lost == .messages.lost' r.json
}

@test "bench: --compare prints the changes and exits 1 past --max-regression" {
  run -0 dtbus bench -q 1 -n 500 --rate 2000 -t cmp/%i -o json
  echo "$output" >base.json
  # a slower baseline: everything got better, exit 0 and one line per figure
  jq '.throughput |= map_values(1) | .latency_ms |= map_values(map_values(1e6))' base.json >slow.json
  run -0 dtbus bench -q 1 -n 500 --rate 2000 -t cmp/%i --compare slow.json --max-regression 5%
  [[ $output == *"compared with slow.json (max regression 5.0 %)"* ]]
  [[ $output == *"receive rate"* ]]
  [[ $output == *"latency p99.9"* ]]
  [[ $output == *"ack latency p99"* ]]
  [[ $output != *REGRESSION* ]]
  # a doctored baseline ten times faster (throughput) and with tiny latencies
  jq '.throughput.receive_msgs_per_s *= 10 | .throughput.publish_msgs_per_s *= 10
      | .latency_ms.end_to_end.p50 = 0.0001 | .latency_ms.end_to_end.p99 = 0.0001' base.json >fast.json
  run --separate-stderr -1 dtbus bench -q 1 -n 500 --rate 2000 -t cmp/%i --compare fast.json -o json
  echo "$output" >r.json
  jq -e '.comparison.regressions >= 3' r.json
  jq -e '.comparison.figures[] | select(.name == "receive rate") | .regression' r.json
  jq -e '.comparison.baseline == "fast.json" and .comparison.max_regression_percent == 10' r.json
  [[ $stderr == *"figure(s) worse than fast.json by more than 10.0 %"* ]]
  # not a bench result: usage error before connecting
  echo '{"a":1}' >other.json
  run -2 dtbus bench --compare other.json
  [[ $output == *"--compare other.json: not the JSON result of dtbus bench"* ]]
}

@test "bench: -o json has every documented key, with the documented types" {
  run -0 dtbus bench --publishers 2 -q 1 -n 100 -s 100 -o json
  echo "$output" >r.json
  [ "$(wc -l <r.json)" = 1 ]
  jq -e '
    (keys_unsorted == ["dtbus_bench","parameters","machine","broker","started_at","elapsed_s",
      "interrupted","messages","throughput","latency_ms","reconnects","per_publisher"])
    and .dtbus_bench == 1
    and (.parameters | keys_unsorted == ["publishers","subscribers","qos","payload_bytes",
      "payload_file","count","duration_s","rate_per_publisher","rate_total","mode","inflight",
      "topic","filter","protocol","tls"])
    and .parameters.publishers == 2 and .parameters.subscribers == 1 and .parameters.qos == 1
    and .parameters.payload_bytes == 100 and .parameters.payload_file == null
    and .parameters.count == 100 and .parameters.duration_s == null
    and .parameters.rate_per_publisher == null and .parameters.rate_total == null
    and .parameters.mode == "max-rate" and .parameters.inflight == 100
    and (.parameters.topic | test("^dtbus/bench/[0-9a-f]{8}/%i$"))
    and (.parameters.filter | test("^dtbus/bench/[0-9a-f]{8}/\\+$"))
    and .parameters.protocol == 5 and .parameters.tls == false
    and (.machine | keys_unsorted == ["nproc","os","kernel","arch","cpu"])
    and (.machine.nproc | type == "number" and . >= 1)
    and (.machine.kernel | type == "string") and .machine.os == "Linux"
    and (.broker | keys_unsorted == ["address","connack","connect_ms_max"])
    and (.broker.address | test("127.0.0.1:[0-9]+")) and (.broker.connack.receive_maximum | type == "number")
    and (.broker.connect_ms_max | type == "number")
    and (.started_at | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T.*Z$"))
    and (.elapsed_s | type == "number" and . > 0) and .interrupted == false
    and (.messages | keys_unsorted == ["published","acked","rejected","unacked","expected",
      "received","received_with_duplicates","lost","duplicated","out_of_order","foreign"])
    and .messages.published == 200 and .messages.received == 200
    and (.throughput | keys_unsorted == ["publish_msgs_per_s","receive_msgs_per_s",
      "receive_bytes_per_s"]) and .throughput.receive_msgs_per_s > 0
    and (.latency_ms | keys_unsorted == ["end_to_end","publish_to_ack"])
    and ([.latency_ms[] | keys_unsorted == ["count","min","mean","p50","p90","p99","p99_9","max"]]
         | all)
    and ([.latency_ms[] | .min <= .p50 and .p50 <= .p90 and .p90 <= .p99 and .p99 <= .p99_9
          and .p99_9 <= .max] | all)
    and .reconnects == 0
    and (.per_publisher | length == 2)
    and ([.per_publisher[] | keys_unsorted == ["publisher","published","acked","received","lost",
      "duplicated","out_of_order"]] | all)
    and (has("comparison") | not)
  ' r.json
  # QoS 0: no ack latency, acked of a publisher is null
  run -0 dtbus bench -q 0 -n 50 -o json
  echo "$output" | jq -e '.latency_ms.publish_to_ack == null and .per_publisher[0].acked == null'
}

@test "bench: text report, usage errors and --payload-file" {
  printf '{"hello":"world"}' >tpl.json
  run -0 dtbus bench -q 1 -n 100 --payload-file tpl.json
  [[ $output == *"received                 100 of 100 expected"* ]]
  [[ $output == *"49 B payload"* ]]
  [[ $output == *"latency publish to ack"* ]]
  run -2 dtbus bench -s 16
  [[ $output == *"--size must be at least 32"* ]]
  run -2 dtbus bench --rate 10 --rate-total 20
  run -2 dtbus bench -t 'a/#/%i'
  run -2 dtbus bench --max-regression lots
  [[ $output == *"--max-regression 'lots': not a percentage"* ]]
  run -4 dtbus bench -p "$(free_port)" -n 1
}

@test "bench: SIGINT ends the run with the report of what was done, exit 130" {
  bg_start B dtbus -v bench -q 1 --rate 500 -d 30 -t int/%i -o json
  wait_for_line "$B_ERR" 'publishing:'
  sleep 0.3 # some messages out before the signal (load, not synchronisation)
  bg_stop B INT
  run -130 bg_wait B
  jq -e '.interrupted == true and .messages.published > 0' "$B_OUT"
  # what was published before the signal is still acknowledged and counted
  jq -e '.messages.unacked == 0 and .messages.received == .messages.published' "$B_OUT"
}
