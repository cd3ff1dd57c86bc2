// SPDX-License-Identifier: Apache-2.0
// dtbus bench: throughput, latency and delivery of a broker, N publishers and M subscribers.
#include "builtin_mains.hpp"
#include "dtbus/cli/command.hpp"
#include "dtbus/commands/bench/bench_command.hpp"

int dtbus::tools::bench_main(int argc, char** argv) {
  dtbus::cli::Command command("bench");
  CLI::App& app = command.app();
  // -q is the QoS here (as in pub/sub); quiet stays available as --quiet.
  app.remove_option(app.get_option("--quiet"));
  app.add_flag("--quiet", command.globals().quiet, "Only errors on stderr")
      ->group("Global options");
  dtbus::commands::bench::Options o;
  app.add_option("--publishers", o.publishers, "Publishing connections (default 1)")
      ->type_name("N");
  app.add_option("--subscribers", o.subscribers,
                 "Subscribing connections, each receives every message (default 1; 0 = none)")
      ->type_name("M");
  app.add_option("-q,--qos", o.qos, "QoS of publications and subscriptions (default 0)")
      ->type_name("0|1|2")
      ->check(CLI::Range(0, 2));
  app.add_option("-s,--size", o.size,
                 "Payload bytes, the 32-byte bench header included (default 64; K, M = KiB, MiB)")
      ->transform(CLI::AsSizeValue(false).description(""))
      ->type_name("BYTES");
  app.add_option("--payload-file", o.payload_file,
                 "Payload template: the bench header, then this file's bytes")
      ->type_name("FILE");
  app.add_option("-n,--count", o.count, "Messages per publisher")->type_name("N");
  app.add_option("-d,--duration", o.duration_s,
                 "Seconds of publishing (default 10 unless --count; with both, whichever ends "
                 "first)")
      ->type_name("S");
  auto* rate = app.add_option("-r,--rate", o.rate,
                              "Messages per second per publisher, open loop: latency is counted "
                              "from the scheduled send time")
                   ->type_name("R");
  app.add_option("--rate-total", o.rate_total, "Messages per second over all publishers")
      ->type_name("R")
      ->excludes(rate);
  app.add_flag("--closed-loop", o.closed_loop,
               "Send the next message once the previous is acknowledged (--rate caps it)");
  app.add_option("--inflight", o.inflight,
                 "Messages in flight per publisher: not yet written (QoS 0) or acknowledged, "
                 "and without --rate not yet received (default 1000 at QoS 0, 100 above; 16 MiB "
                 "of payload over all publishers at most)")
      ->type_name("N");
  app.add_option("-t,--topic", o.topic,
                 "Topic pattern: %i publisher index, %n sequence (default "
                 "dtbus/bench/<run-id>/%i)")
      ->type_name("PATTERN");
  app.add_option("--filter", o.filter,
                 "Subscription filter (default: the pattern with + for each level holding %i "
                 "or %n)")
      ->type_name("FILTER");
  app.add_option("--drain", o.drain_s,
                 "After publishing, wait for missing messages and acks until S seconds pass "
                 "without any (default 2)")
      ->type_name("S");
  app.add_option("--compare", o.compare_file,
                 "Print the change of every figure against a previous -o json result; exit 1 "
                 "when one is worse than --max-regression")
      ->type_name("PREVIOUS.json");
  app.add_option("--max-regression", o.max_regression, "Threshold of --compare (default 10%)")
      ->type_name("PERCENT");
  app.add_flag("!--no-progress", o.progress, "No live progress line on a terminal's stderr");
  return command.run(argc, argv,
                     [&] { return dtbus::commands::bench::run(command.invocation(), o); });
}
