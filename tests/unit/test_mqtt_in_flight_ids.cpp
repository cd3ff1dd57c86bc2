// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include <memory>
#include <thread>

#include "dtbus/mqtt/in_flight_ids.hpp"

using dtbus::mqtt::InFlightIds;

TEST(InFlightIds, CountsQos1And2UntilDone) {
  auto ids = std::make_unique<InFlightIds>();
  ids->sent(1, 1);
  ids->sent(2, 2);
  ids->sent(3, 0);
  EXPECT_EQ(ids->pending(), 2);
  EXPECT_TRUE(ids->any_qos2_pending());
  EXPECT_FALSE(ids->done(3));  // a QoS 0 write is no acknowledgement
  EXPECT_TRUE(ids->done(2));
  EXPECT_FALSE(ids->any_qos2_pending());
  EXPECT_TRUE(ids->done(1));
  EXPECT_EQ(ids->pending(), 0);
}

TEST(InFlightIds, AcknowledgementBeforeTheIdIsRecordedCancelsOut) {
  auto ids = std::make_unique<InFlightIds>();
  EXPECT_FALSE(ids->done(7));  // seen first: remembered
  ids->sent(7, 1);
  EXPECT_EQ(ids->pending(), 0);
  ids->sent(7, 1);  // the id again, after a wrap: in flight once more
  EXPECT_EQ(ids->pending(), 1);
  EXPECT_TRUE(ids->done(7));
  EXPECT_EQ(ids->pending(), 0);
}

TEST(InFlightIds, QoS0IdsLeftByALostLinkAreReused) {
  auto ids = std::make_unique<InFlightIds>();
  ids->sent(9, 0);  // never written: the link dropped
  ids->sent(9, 1);
  EXPECT_EQ(ids->pending(), 1);
  EXPECT_TRUE(ids->done(9));
  EXPECT_EQ(ids->pending(), 0);
}

TEST(InFlightIds, IgnoresIdsOutOfRange) {
  auto ids = std::make_unique<InFlightIds>();
  ids->sent(0, 1);
  ids->sent(70000, 1);
  EXPECT_EQ(ids->pending(), 0);
  EXPECT_FALSE(ids->done(-1));
}

TEST(InFlightIds, TwoThreadsEndBalanced) {
  // The publishing thread records ids while the network thread reports them done, in any order.
  auto ids = std::make_unique<InFlightIds>();
  constexpr int kRounds = 20;
  for (int round = 0; round < kRounds; ++round) {
    std::thread network([&] {
      for (int mid = 1; mid <= 65535; ++mid) ids->done(mid);
    });
    for (int mid = 1; mid <= 65535; ++mid) ids->sent(mid, 1 + mid % 2);
    network.join();
    // Whatever the interleaving, each id was sent once and done once: nothing stays pending.
    EXPECT_EQ(ids->pending(), 0) << "round " << round;
    EXPECT_FALSE(ids->any_qos2_pending());
  }
}
