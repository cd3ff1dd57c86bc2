// SPDX-License-Identifier: Apache-2.0
#include "dtbus/util/histogram.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <thread>
#include <vector>

using dtbus::util::Histogram;

TEST(Histogram, BucketsAreContiguousAndOrdered) {
  for (size_t b = 1; b < Histogram::kBucketCount; ++b) {
    ASSERT_EQ(Histogram::lowest_in(b), Histogram::highest_in(b - 1) + 1) << "bucket " << b;
  }
  EXPECT_EQ(Histogram::bucket_of(0), 0u);
  EXPECT_EQ(Histogram::bucket_of(255), 255u);
  EXPECT_EQ(Histogram::bucket_of(256), 256u);
  EXPECT_EQ(Histogram::bucket_of(257), 256u);
  EXPECT_EQ(Histogram::bucket_of(UINT64_MAX), Histogram::kBucketCount - 1);
}

TEST(Histogram, RelativeErrorIsBounded) {
  std::mt19937_64 random(7);
  for (int i = 0; i < 100000; ++i) {
    uint64_t value = random() >> (random() % 60);
    if (value >= (uint64_t{1} << Histogram::kMaxBits)) continue;
    size_t b = Histogram::bucket_of(value);
    ASSERT_LE(Histogram::lowest_in(b), value);
    ASSERT_GE(Histogram::highest_in(b), value);
    double width = static_cast<double>(Histogram::highest_in(b) - Histogram::lowest_in(b));
    ASSERT_LE(width, static_cast<double>(value) / Histogram::kSubBuckets) << value;
  }
}

TEST(Histogram, PercentilesOfAUniformRange) {
  Histogram h;
  for (uint64_t v = 1; v <= 100000; ++v) h.record(v * 1000);  // 1 us .. 100 ms
  EXPECT_EQ(h.count(), 100000u);
  EXPECT_EQ(h.min(), 1000u);
  EXPECT_EQ(h.max(), 100000000u);
  EXPECT_NEAR(h.mean(), 50000500.0, 1.0);
  struct Want {
    double p;
    double value;
  };
  for (auto [p, value] : {Want{50, 50e6}, Want{90, 90e6}, Want{99, 99e6}, Want{99.9, 99.9e6}}) {
    double got = static_cast<double>(h.percentile(p));
    EXPECT_GE(got, value) << "p" << p;  // never an underestimate
    EXPECT_LE(got, value * (1 + 1.0 / Histogram::kSubBuckets)) << "p" << p;
  }
  EXPECT_EQ(h.percentile(100), h.max());
}

TEST(Histogram, OneOutlierShowsAtTheTailOnly) {
  Histogram h;
  for (int i = 0; i < 9989; ++i) h.record(1000);
  for (int i = 0; i < 11; ++i) h.record(1'000'000'000);  // 0.11 % of them waited out a 1 s stall
  EXPECT_LE(h.percentile(99), 1007u);
  EXPECT_EQ(h.percentile(99.8), 1003u);  // the top of 1000's bucket [1000, 1003]
  EXPECT_EQ(h.percentile(99.9), 1'000'000'000u);
  EXPECT_EQ(h.max(), 1'000'000'000u);
}

TEST(Histogram, EmptyIsZero) {
  Histogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.mean(), 0.0);
  EXPECT_EQ(h.percentile(99), 0u);
}

TEST(Histogram, HugeValuesAreCappedButMaxIsExact) {
  Histogram h;
  h.record(UINT64_MAX / 2);
  EXPECT_EQ(h.max(), UINT64_MAX / 2);
  EXPECT_EQ(h.percentile(50), UINT64_MAX / 2);  // capped bucket, reported as the true max
}

TEST(Histogram, MergeEqualsRecordingEverythingInOne) {
  Histogram a, b, all;
  std::mt19937_64 random(1);
  for (int i = 0; i < 50000; ++i) {
    uint64_t v = random() % 10'000'000;
    (i % 2 ? a : b).record(v);
    all.record(v);
  }
  Histogram merged;
  merged.merge(a);
  merged.merge(b);
  EXPECT_EQ(merged.count(), all.count());
  EXPECT_EQ(merged.min(), all.min());
  EXPECT_EQ(merged.max(), all.max());
  EXPECT_DOUBLE_EQ(merged.mean(), all.mean());
  for (double p : {1.0, 50.0, 90.0, 99.0, 99.9, 100.0}) {
    EXPECT_EQ(merged.percentile(p), all.percentile(p)) << p;
  }
  Histogram copy = merged;
  EXPECT_EQ(copy.percentile(99), all.percentile(99));
  copy.reset();
  EXPECT_EQ(copy.count(), 0u);
}

TEST(Histogram, ThreadsRecordAloneAndMergeAtTheEnd) {
  constexpr int kThreads = 4;
  constexpr int kEach = 100000;
  std::vector<Histogram> per_thread(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) per_thread[t].record(static_cast<uint64_t>(t * kEach + i));
    });
  }
  // A reader meanwhile sees consistent, growing figures.
  Histogram total;
  for (auto& t : threads) t.join();
  for (const auto& h : per_thread) total.merge(h);
  EXPECT_EQ(total.count(), uint64_t{kThreads} * kEach);
  EXPECT_EQ(total.max(), uint64_t{kThreads} * kEach - 1);
}

TEST(Histogram, ConstantMemory) { EXPECT_LE(sizeof(Histogram), 48u * 1024u); }
