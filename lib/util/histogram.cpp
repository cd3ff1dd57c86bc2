// SPDX-License-Identifier: Apache-2.0
#include "dtbus/util/histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace dtbus::util {

namespace {
constexpr uint64_t kCappedValue = (uint64_t{1} << Histogram::kMaxBits) - 1;
}

Histogram& Histogram::operator=(const Histogram& other) {
  if (this != &other) {
    reset();
    merge(other);
  }
  return *this;
}

// Values below 2 * kSubBuckets have a bucket each; above, the value's top kSubBucketBits + 1 bits
// (the leading one and the linear part) and its power of two pick the bucket.
size_t Histogram::bucket_of(uint64_t value) {
  value = std::min(value, kCappedValue);
  if (value < 2 * kSubBuckets) return static_cast<size_t>(value);
  int shift = (63 - std::countl_zero(value)) - kSubBucketBits;
  return static_cast<size_t>(shift) * kSubBuckets + static_cast<size_t>(value >> shift);
}

uint64_t Histogram::lowest_in(size_t bucket) {
  if (bucket < 2 * kSubBuckets) return bucket;
  uint64_t shift = bucket / kSubBuckets - 1;
  uint64_t mantissa = bucket - shift * kSubBuckets;  // in [kSubBuckets, 2 * kSubBuckets)
  return mantissa << shift;
}

uint64_t Histogram::highest_in(size_t bucket) {
  if (bucket < 2 * kSubBuckets) return bucket;
  uint64_t shift = bucket / kSubBuckets - 1;
  return lowest_in(bucket) + ((uint64_t{1} << shift) - 1);
}

void Histogram::record(uint64_t value) {
  add(buckets_[bucket_of(value)], 1);
  add(count_, 1);
  add(sum_, value);
  if (value < min_.load(std::memory_order_relaxed)) min_.store(value, std::memory_order_relaxed);
  if (value > max_.load(std::memory_order_relaxed)) max_.store(value, std::memory_order_relaxed);
}

void Histogram::merge(const Histogram& other) {
  for (size_t i = 0; i < kBucketCount; ++i) {
    uint64_t n = other.buckets_[i].load(std::memory_order_relaxed);
    if (n) add(buckets_[i], n);
  }
  add(count_, other.count());
  add(sum_, other.sum_.load(std::memory_order_relaxed));
  uint64_t other_min = other.min_.load(std::memory_order_relaxed);
  if (other_min < min_.load(std::memory_order_relaxed)) {
    min_.store(other_min, std::memory_order_relaxed);
  }
  if (other.max() > max()) max_.store(other.max(), std::memory_order_relaxed);
}

void Histogram::reset() {
  for (auto& b : buckets_) b.store(0, std::memory_order_relaxed);
  count_.store(0, std::memory_order_relaxed);
  sum_.store(0, std::memory_order_relaxed);
  min_.store(UINT64_MAX, std::memory_order_relaxed);
  max_.store(0, std::memory_order_relaxed);
}

uint64_t Histogram::min() const {
  uint64_t m = min_.load(std::memory_order_relaxed);
  return m == UINT64_MAX ? 0 : m;
}

double Histogram::mean() const {
  uint64_t n = count();
  return n ? static_cast<double>(sum_.load(std::memory_order_relaxed)) / static_cast<double>(n)
           : 0.0;
}

uint64_t Histogram::percentile(double percentile) const {
  // Counts are summed from the buckets (not count_) so that a concurrent record() between the
  // two reads cannot leave the rank beyond the last bucket.
  uint64_t total = 0;
  for (const auto& b : buckets_) total += b.load(std::memory_order_relaxed);
  if (total == 0) return 0;
  double p = std::clamp(percentile, 0.0, 100.0);
  auto rank = static_cast<uint64_t>(std::ceil(p / 100.0 * static_cast<double>(total)));
  rank = std::clamp<uint64_t>(rank, 1, total);
  uint64_t seen = 0;
  for (size_t i = 0; i < kBucketCount; ++i) {
    seen += buckets_[i].load(std::memory_order_relaxed);
    if (seen >= rank) {
      if (i == kBucketCount - 1) return max();  // the capped bucket: its values are unknown
      return std::min(highest_in(i), std::max(max(), lowest_in(i)));
    }
  }
  return max();
}

}  // namespace dtbus::util
