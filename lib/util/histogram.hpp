// SPDX-License-Identifier: Apache-2.0
// A log-linear histogram of non-negative integers (latencies in nanoseconds), HdrHistogram-style:
// each power of two is split into kSubBuckets linear buckets, so a percentile is exact to within
// 1/kSubBuckets of its value (< 0.8 %) whatever the range, in constant memory (~40 KiB).
//
// Threading: one thread records (record() is a plain load + store on relaxed atomics, no lock
// prefix); any thread may read at any time (a reader sees a value recorded a moment ago or not,
// never a torn one). merge() adds another histogram into this one (both quiet, or this one owned
// by the merging thread).
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace dtbus::util {

class Histogram {
 public:
  static constexpr int kSubBucketBits = 7;
  static constexpr uint64_t kSubBuckets = uint64_t{1} << kSubBucketBits;  // 128
  // Values at or above 2^kMaxBits (~4.9 h in ns) are counted in the last bucket; max() and
  // mean() stay exact.
  static constexpr int kMaxBits = 44;
  static constexpr size_t kBucketCount =
      static_cast<size_t>(kMaxBits - kSubBucketBits + 1) * kSubBuckets;

  Histogram() = default;
  Histogram(const Histogram& other) { merge(other); }
  Histogram& operator=(const Histogram& other);

  void record(uint64_t value);
  // Adds every count of `other` (histograms from several threads give the total).
  void merge(const Histogram& other);
  void reset();

  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  uint64_t min() const;  // 0 when empty
  uint64_t max() const { return max_.load(std::memory_order_relaxed); }
  double mean() const;  // 0 when empty
  // The value below or at which `percentile` % of the recorded values lie (0 < p <= 100): the
  // highest value of that value's bucket (never an underestimate), capped by max(). 0 when empty.
  uint64_t percentile(double percentile) const;

  // Bucket arithmetic, public for tests: the index of a value, and the range [lowest, highest]
  // of the values sharing a bucket.
  static size_t bucket_of(uint64_t value);
  static uint64_t lowest_in(size_t bucket);
  static uint64_t highest_in(size_t bucket);

 private:
  static void add(std::atomic<uint64_t>& counter, uint64_t amount) {
    counter.store(counter.load(std::memory_order_relaxed) + amount, std::memory_order_relaxed);
  }
  std::array<std::atomic<uint64_t>, kBucketCount> buckets_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_{0};  // wraps after 584 years of nanoseconds
  std::atomic<uint64_t> min_{UINT64_MAX};
  std::atomic<uint64_t> max_{0};
};

}  // namespace dtbus::util
