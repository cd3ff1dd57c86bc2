// SPDX-License-Identifier: Apache-2.0
// Which message ids are in flight, and at which QoS, shared by the thread that publishes and the
// link's network thread without a lock: a mutex held around every publish made the network
// thread wait for it on each acknowledgement (the futex calls of a QoS 1 stream, issue 17).
//
// libmosquitto gives the id only when mosquitto_publish_v5 returns, so an acknowledgement can
// be seen before the id is recorded; the table remembers that and the late record cancels out.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <new>

namespace dtbus::mqtt {

class InFlightIds {
 public:
  // calloc'd: the pages of ids never used are never touched (a one-message `pub -m` uses one).
  InFlightIds() : states_(static_cast<uint8_t*>(std::calloc(kIdCount, 1))) {
    if (states_ == nullptr) throw std::bad_alloc();
  }
  ~InFlightIds() { std::free(states_); }
  InFlightIds(const InFlightIds&) = delete;
  InFlightIds& operator=(const InFlightIds&) = delete;

  // Publishing thread, after libmosquitto returned `mid` for a message of `qos`.
  void sent(int mid, int qos) {
    if (!valid(mid)) return;
    std::atomic_ref<uint8_t> slot(states_[mid]);
    uint8_t state = static_cast<uint8_t>(kQos0 + qos);
    uint8_t before = slot.exchange(state, std::memory_order_acq_rel);
    if (before == kDoneEarly) {  // its acknowledgement came first: nothing is in flight
      slot.compare_exchange_strong(state, kFree, std::memory_order_acq_rel);
      return;
    }
    // A QoS 0 id whose write never came (dropped with the link) is simply replaced.
    forget_counts(before);
    if (qos > 0) pending_.fetch_add(1, std::memory_order_relaxed);
    if (qos == 2) pending_qos2_.fetch_add(1, std::memory_order_relaxed);
  }

  // Network thread, when libmosquitto reports `mid` done (QoS 0 written, PUBACK, PUBCOMP).
  // True when it was a QoS 1/2 message in flight (false when its id is not recorded yet).
  bool done(int mid) {
    if (!valid(mid)) return false;
    std::atomic_ref<uint8_t> slot(states_[mid]);
    uint8_t state = slot.load(std::memory_order_acquire);
    while (true) {
      uint8_t next = state == kFree ? kDoneEarly : kFree;
      if (state == kDoneEarly) return false;  // a duplicate: nothing more to do
      if (slot.compare_exchange_weak(state, next, std::memory_order_acq_rel)) break;
    }
    if (state == kFree) return false;  // early (mostly a QoS 0 write): the QoS is not known yet
    forget_counts(state);
    return state > kQos0;
  }

  // QoS 1/2 messages published and not yet acknowledged (approximate while both threads run).
  int64_t pending() const { return pending_.load(std::memory_order_relaxed); }
  bool any_qos2_pending() const { return pending_qos2_.load(std::memory_order_relaxed) > 0; }

 private:
  static constexpr uint8_t kFree = 0;
  static constexpr uint8_t kQos0 = 1;  // kQos0 + qos: in flight
  static constexpr uint8_t kDoneEarly = 4;
  static constexpr int kIdCount = 65536;
  static bool valid(int mid) { return mid > 0 && mid < kIdCount; }

  void forget_counts(uint8_t state) {
    if (state > kQos0 && state < kDoneEarly) pending_.fetch_sub(1, std::memory_order_relaxed);
    if (state == kQos0 + 2) pending_qos2_.fetch_sub(1, std::memory_order_relaxed);
  }

  uint8_t* states_;  // by message id, accessed through std::atomic_ref
  std::atomic<int64_t> pending_{0};
  std::atomic<int64_t> pending_qos2_{0};
};

}  // namespace dtbus::mqtt
