// SPDX-License-Identifier: Apache-2.0
#include "dtbus/commands/bench/accounting.hpp"

#include <gtest/gtest.h>

#include <string>

using namespace dtbus::commands::bench;
using Outcome = SequenceTracker::Outcome;

TEST(BenchPayloadHeader, RoundTripsAndRejectsForeignPayloads) {
  std::string payload(64, 'x');
  PayloadHeader h;
  h.run_id = 0xdeadbeef;
  h.publisher = 7;
  h.sequence = 0x0123456789abcdefULL;
  h.scheduled_ns = 1'700'000'000'123'456'789ULL;
  h.write(payload.data());
  EXPECT_EQ(payload.substr(0, 4), "DTB1");
  EXPECT_EQ(payload[PayloadHeader::kSize], 'x');  // padding untouched
  auto back = PayloadHeader::read(payload);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->run_id, h.run_id);
  EXPECT_EQ(back->publisher, 7u);
  EXPECT_EQ(back->sequence, h.sequence);
  EXPECT_EQ(back->scheduled_ns, h.scheduled_ns);
  EXPECT_FALSE(PayloadHeader::read(payload.substr(0, PayloadHeader::kSize - 1)));
  EXPECT_FALSE(PayloadHeader::read(std::string(64, 'x')));
  EXPECT_FALSE(PayloadHeader::read("{\"json\":true}"));
}

TEST(BenchSequenceTracker, InOrderStreamHasNothingToReport) {
  SequenceTracker t;
  EXPECT_EQ(t.add(0), Outcome::next);
  for (uint64_t s = 1; s < 5000; ++s) ASSERT_EQ(t.add(s), Outcome::next);
  EXPECT_EQ(t.received(), 5000u);
  EXPECT_EQ(t.unique(), 5000u);
  EXPECT_EQ(t.duplicated(), 0u);
  EXPECT_EQ(t.out_of_order(), 0u);
  EXPECT_EQ(t.lost(5000), 0u);
}

TEST(BenchSequenceTracker, GapsAreLostUntilTheyArriveLate) {
  SequenceTracker t;
  t.add(0);
  EXPECT_EQ(t.add(3), Outcome::ahead);  // 1 and 2 missing
  EXPECT_EQ(t.lost(4), 2u);
  EXPECT_EQ(t.add(1), Outcome::out_of_order);
  EXPECT_EQ(t.lost(4), 1u);
  EXPECT_EQ(t.out_of_order(), 1u);
  EXPECT_EQ(t.add(4), Outcome::next);
  EXPECT_EQ(t.lost(10), 6u);  // 2, 5..9
}

TEST(BenchSequenceTracker, DuplicatesAreToldFromLateArrivals) {
  SequenceTracker t;
  for (uint64_t s = 0; s < 10; ++s) t.add(s);
  EXPECT_EQ(t.add(9), Outcome::duplicate);
  EXPECT_EQ(t.add(3), Outcome::duplicate);
  EXPECT_EQ(t.duplicated(), 2u);
  EXPECT_EQ(t.out_of_order(), 0u);
  EXPECT_EQ(t.received(), 12u);
  EXPECT_EQ(t.unique(), 10u);
  EXPECT_EQ(t.lost(10), 0u);
}

TEST(BenchSequenceTracker, ForgetsSlotsAsTheWindowMoves) {
  SequenceTracker t;
  t.add(0);
  // Far ahead: the slot of 0 is reused by kWindow and must not look "seen".
  EXPECT_EQ(t.add(SequenceTracker::kWindow + 5), Outcome::ahead);
  EXPECT_EQ(t.add(SequenceTracker::kWindow), Outcome::out_of_order);
  EXPECT_EQ(t.add(SequenceTracker::kWindow), Outcome::duplicate);
  // Older than the window: out of order, not checked for duplication.
  EXPECT_EQ(t.add(0), Outcome::out_of_order);
}

TEST(BenchSequenceTracker, FirstMessageNotZeroMeansEarlierOnesLost) {
  SequenceTracker t;
  EXPECT_EQ(t.add(5), Outcome::ahead);
  EXPECT_EQ(t.lost(6), 5u);
}

TEST(BenchTopics, PatternsExpandAndGiveTheirFilter) {
  EXPECT_EQ(expand_topic("bench/%i/m%n", 3, 42), "bench/3/m42");
  EXPECT_EQ(expand_topic("a/100%%/%x", 1, 2), "a/100%/%x");
  EXPECT_EQ(expand_topic("plain", 1, 2), "plain");
  EXPECT_TRUE(topic_has_sequence("a/%n"));
  EXPECT_FALSE(topic_has_sequence("a/%%n/%i"));
  EXPECT_EQ(filter_for("bench/%i/x"), "bench/+/x");
  EXPECT_EQ(filter_for("bench/c%i-%n"), "bench/+");
  EXPECT_EQ(filter_for("bench/fixed"), "bench/fixed");
  EXPECT_EQ(filter_for("%i"), "+");
  EXPECT_EQ(filter_for("a/50%%"), "a/50%");
}

TEST(BenchCompare, ParsesPercentages) {
  EXPECT_EQ(parse_percent("10%"), 10.0);
  EXPECT_EQ(parse_percent("2.5 %"), 2.5);
  EXPECT_EQ(parse_percent("0"), 0.0);
  EXPECT_FALSE(parse_percent("ten"));
  EXPECT_FALSE(parse_percent("-5%"));
  EXPECT_FALSE(parse_percent("%"));
}

namespace {
nlohmann::ordered_json result(double rate, double p99, uint64_t lost) {
  nlohmann::ordered_json r;
  r["throughput"]["publish_msgs_per_s"] = rate;
  r["throughput"]["receive_msgs_per_s"] = rate;
  r["latency_ms"]["end_to_end"]["p99"] = p99;
  r["latency_ms"]["publish_to_ack"] = nullptr;
  r["messages"]["lost"] = lost;
  return r;
}
}  // namespace

TEST(BenchCompare, FlagsFiguresWorseThanTheThreshold) {
  auto changes = compare_results(result(1000, 2.0, 0), result(850, 2.1, 0), 10);
  ASSERT_EQ(changes.size(), 4u);  // figures absent or null on either side are left out
  EXPECT_EQ(changes[0].name, "publish rate");
  EXPECT_NEAR(*changes[0].change_percent, -15.0, 1e-9);
  EXPECT_TRUE(changes[0].regression);
  EXPECT_EQ(changes[2].name, "latency p99");
  EXPECT_NEAR(*changes[2].change_percent, 5.0, 1e-9);
  EXPECT_FALSE(changes[2].regression);
  EXPECT_FALSE(changes[3].regression);  // lost 0 -> 0
}

TEST(BenchCompare, BetterIsNeverARegression) {
  for (const auto& c : compare_results(result(1000, 2.0, 5), result(5000, 0.5, 0), 10)) {
    EXPECT_FALSE(c.regression) << c.name;
  }
}

TEST(BenchCompare, LossWhereThereWasNoneRegresses) {
  auto changes = compare_results(result(1000, 2.0, 0), result(1000, 2.0, 3), 10);
  EXPECT_EQ(changes.back().name, "lost");
  EXPECT_FALSE(changes.back().change_percent);
  EXPECT_TRUE(changes.back().regression);
}
