// SPDX-License-Identifier: Apache-2.0
// The publisher over a fake link (no broker): the in-flight window, acknowledgement accounting
// (out of order, refused, message ids wrapping), the no-progress timeout, reconnects, QoS 0, and
// how publishing stops (timeout, refusal, signal) without exceptions.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "dtbus/core/error.hpp"
#include "dtbus/delivery/publisher.hpp"
#include "dtbus/mqtt/transport.hpp"
#include "dtbus/util/interrupt.hpp"
#include "dtbus/util/json.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using dtbus::ExitCode;
using dtbus::delivery::DeliveryOptions;
using dtbus::delivery::DeliveryReport;
using dtbus::delivery::OutgoingMessage;
using dtbus::delivery::Publisher;
using dtbus::delivery::StoppedBy;

namespace {

constexpr int kNotAuthorized = 0x87;

// Stands in for mqtt::Connection the way libmosquitto behaves: message ids count up from a
// chosen start and wrap past 65535 (never 0); QoS 0 messages not yet written are lost when the
// link drops; QoS>0 ones stay pending under their id. The test plays the broker: it delivers
// acknowledgements (any order, any reason code) and drops/restores the link.
class FakeLink : public dtbus::mqtt::Transport {
 public:
  struct Sent {
    int mid;
    std::string topic;
    std::string payload;
    int qos;
  };

  FakeLink(dtbus::mqtt::Handlers handlers, int first_mid)
      : handlers_(std::move(handlers)), next_mid_(first_mid) {
    settings_.host = "fake-broker";
  }

  // ---- mqtt::Transport (called by the publisher) ----
  void connect() override {
    {
      std::lock_guard lock(mutex_);
      connected_ = true;
    }
    if (handlers_.on_connect) handlers_.on_connect(false, false);
  }
  bool connected() const override {
    std::lock_guard lock(mutex_);
    return connected_;
  }
  int publish(const std::string& topic, std::string_view payload, int qos, bool,
              const dtbus::MessageProperties&) override {
    std::lock_guard lock(mutex_);
    if (topic == refused_topic_)
      throw dtbus::Error(ExitCode::usage, "invalid topic '" + topic + "'");
    if (max_payload_ && payload.size() > *max_payload_)
      throw dtbus::Error(ExitCode::runtime, "message too large for the broker");
    if (qos == 0 && !connected_) qos0_while_down_ = true;  // Connection would block instead
    int mid = next_mid_;
    next_mid_ = next_mid_ == 65535 ? 1 : next_mid_ + 1;
    sent_.push_back({mid, topic, std::string(payload), qos});
    pending_[mid] = qos;
    max_pending_ = std::max(max_pending_, pending_.size());
    changed_.notify_all();
    return mid;
  }
  void disconnect() override {
    std::lock_guard lock(mutex_);
    connected_ = false;
    disconnected_ = true;
  }
  const dtbus::mqtt::ConnectionSettings& settings() const override { return settings_; }

  // ---- the broker's side (called by the test) ----
  // PUBACK/PUBCOMP (QoS>0) or "written" (QoS 0), as the network thread reports it.
  void ack(int mid, int reason = 0) {
    {
      std::lock_guard lock(mutex_);
      pending_.erase(mid);
    }
    handlers_.on_publish(mid, reason);
  }
  void ack_all_pending() {
    for (int mid : pending_mids()) ack(mid);
  }
  void drop() {
    {
      std::lock_guard lock(mutex_);
      connected_ = false;
      for (auto it = pending_.begin(); it != pending_.end();) {
        it = it->second == 0 ? pending_.erase(it) : std::next(it);  // unwritten QoS 0: gone
      }
    }
    if (handlers_.on_connection_lost) handlers_.on_connection_lost("connection lost");
  }
  void refuse_larger_than(size_t size) {
    std::lock_guard lock(mutex_);
    max_payload_ = size;
  }
  void reconnect() {
    {
      std::lock_guard lock(mutex_);
      connected_ = true;
    }
    handlers_.on_connect(/*session_present=*/true, /*reconnect=*/true);
  }
  // The link stops reconnecting: what the broker will not take is named (Connection::on_gave_up).
  void give_up(const std::string& diagnosis) {
    {
      std::lock_guard lock(mutex_);
      connected_ = false;
    }
    handlers_.on_gave_up(diagnosis);
  }
  void refuse_topic(std::string topic) {
    std::lock_guard lock(mutex_);
    refused_topic_ = std::move(topic);
  }

  // A broker on its own thread until stop_serving(): acknowledges the newest pending message
  // whenever `at_least` are pending. With the window size, a publisher that does not wait for a
  // free slot overfills its window at once.
  void serve(size_t at_least) {
    while (true) {
      int mid = 0;
      {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [&] { return stop_serving_ || pending_.size() >= at_least; });
        if (stop_serving_) return;
        mid = last_sent_pending_mid();
      }
      ack(mid);
    }
  }
  void stop_serving() {
    std::lock_guard lock(mutex_);
    stop_serving_ = true;
    changed_.notify_all();
  }

  std::vector<Sent> sent() const {
    std::lock_guard lock(mutex_);
    return sent_;
  }
  std::vector<int> pending_mids() const {
    std::lock_guard lock(mutex_);
    std::vector<int> mids;
    for (const auto& [mid, qos] : pending_) mids.push_back(mid);
    return mids;
  }
  // Waits (bounded) until the publisher has sent `count` messages.
  bool wait_sent(size_t count) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, 5s, [&] { return sent_.size() >= count; });
  }
  size_t max_pending() const {
    std::lock_guard lock(mutex_);
    return max_pending_;
  }
  bool qos0_while_down() const {
    std::lock_guard lock(mutex_);
    return qos0_while_down_;
  }
  bool disconnected() const {
    std::lock_guard lock(mutex_);
    return disconnected_;
  }

 private:
  int last_sent_pending_mid() const {  // (mutex held)
    for (auto it = sent_.rbegin(); it != sent_.rend(); ++it) {
      if (pending_.count(it->mid) != 0) return it->mid;
    }
    return 0;
  }

  dtbus::mqtt::Handlers handlers_;
  dtbus::mqtt::ConnectionSettings settings_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  int next_mid_;
  bool connected_ = false;
  bool disconnected_ = false;
  bool qos0_while_down_ = false;
  bool stop_serving_ = false;
  std::string refused_topic_;
  std::optional<size_t> max_payload_;
  std::vector<Sent> sent_;
  std::map<int, int> pending_;  // mid -> qos
  size_t max_pending_ = 0;
};

class PublisherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    failed_out_ = testing::TempDir() + "dtbus-publisher-" + std::to_string(getpid()) + "-" +
                  testing::UnitTest::GetInstance()->current_test_info()->name() + ".jsonl";
    fs::remove(failed_out_);
  }
  void TearDown() override { fs::remove(failed_out_); }

  DeliveryOptions options(size_t window, std::chrono::milliseconds timeout = 5s) const {
    DeliveryOptions o;
    o.window = window;
    o.timeout = timeout;
    o.failed_out = failed_out_;
    return o;
  }

  // A publisher over a new FakeLink, which link_ then points to (owned by the publisher).
  std::unique_ptr<Publisher> make_publisher(const DeliveryOptions& o, int first_mid = 1) {
    return std::make_unique<Publisher>(
        [this, first_mid](dtbus::mqtt::Handlers handlers) {
          auto link = std::make_unique<FakeLink>(std::move(handlers), first_mid);
          link_ = link.get();
          links_made_++;
          return link;
        },
        o);
  }

  static OutgoingMessage message(const std::string& name, int qos = 1) {
    return OutgoingMessage{"t/" + name, name, qos, false, {}};
  }

  // Records each message's fate by payload name.
  dtbus::delivery::DoneCallback record_done(const std::string& name) {
    return [this, name](bool acknowledged) { done_.push_back({name, acknowledged}); };
  }

  std::vector<nlohmann::ordered_json> failed_out_lines() const {
    std::vector<nlohmann::ordered_json> lines;
    std::ifstream in(failed_out_);
    for (std::string line; std::getline(in, line);) lines.push_back(dtbus::util::parse_json(line));
    return lines;
  }

  std::string failed_out_;
  FakeLink* link_ = nullptr;
  int links_made_ = 0;
  std::vector<std::pair<std::string, bool>> done_;
};

TEST_F(PublisherTest, FinishWithEverythingAcknowledgedIsCompleteAndWritesNoFailedOut) {
  auto publisher = make_publisher(options(8));
  for (const char* name : {"a", "b", "c"}) publisher->publish(message(name), record_done(name));
  link_->ack_all_pending();
  DeliveryReport report = publisher->finish();
  EXPECT_TRUE(report.complete());
  EXPECT_EQ(report.published, 3u);
  EXPECT_EQ(report.acknowledged, 3u);
  EXPECT_EQ(report.failed, 0u);
  EXPECT_EQ(report.stopped_by, StoppedBy::nothing);
  EXPECT_TRUE(report.failed_out_path.empty());
  EXPECT_FALSE(fs::exists(failed_out_));
  EXPECT_TRUE(link_->disconnected());
  EXPECT_EQ(done_.size(), 3u);
}

TEST_F(PublisherTest, ALinkThatGivesUpStopsPublishingAndSavesEveryPendingMessage) {
  auto publisher = make_publisher(options(8));
  for (const char* name : {"a", "b", "c"}) publisher->publish(message(name), record_done(name));
  link_->ack(link_->pending_mids().front());
  link_->give_up("broker does not accept QoS 2");
  publisher->publish(message("d"));  // after the stop: saved, not sent
  DeliveryReport report = publisher->finish();
  EXPECT_EQ(report.stopped_by, StoppedBy::timeout);
  EXPECT_EQ(report.stop_reason, "broker does not accept QoS 2");
  EXPECT_EQ(report.acknowledged, 1u);
  EXPECT_EQ(report.failed, 3u);
  EXPECT_EQ(link_->sent().size(), 3u);
  EXPECT_TRUE(fs::exists(failed_out_));
}

TEST_F(PublisherTest, WindowNeverExceededAndPublishResumesWhenAnAckFreesASlot) {
  constexpr size_t kWindow = 4;
  constexpr int kCount = 200;
  auto publisher = make_publisher(options(kWindow));
  std::thread broker([link = link_] { link->serve(kWindow); });
  for (int i = 0; i < kCount; ++i) publisher->publish(message(std::to_string(i)));
  link_->stop_serving();
  broker.join();
  EXPECT_EQ(link_->max_pending(), kWindow);  // filled, never overfilled
  EXPECT_EQ(link_->sent().size(), static_cast<size_t>(kCount));
  link_->ack_all_pending();
  DeliveryReport report = publisher->finish();
  EXPECT_TRUE(report.complete());
  EXPECT_EQ(report.acknowledged, static_cast<uint64_t>(kCount));
}

// QoS 0 goes past the window (memory stays bounded by a byte cap); QoS 1 keeps to it.
TEST_F(PublisherTest, QoS0MessagesGoBeyondTheWindowUntilTheByteCap) {
  auto publisher = make_publisher(options(2, 100ms));
  for (int i = 0; i < 50; ++i) publisher->publish(message("z" + std::to_string(i), 0));
  EXPECT_EQ(link_->sent().size(), 50u);  // none written yet, none waited for
  publisher->publish(message("a"));
  publisher->publish(message("b"));
  EXPECT_FALSE(publisher->stopped());
  publisher->publish(message("c"));  // the QoS 1 window (2) is full: waits until the timeout
  EXPECT_EQ(publisher->stopped_by(), StoppedBy::timeout);
  EXPECT_EQ(link_->sent().size(), 52u);
}

TEST_F(PublisherTest, LargeQoS0MessagesWaitAtTheByteCap) {
  auto publisher = make_publisher(options(1, 100ms));
  std::string big(3 << 20, 'x');
  publisher->publish(OutgoingMessage{"t/big", big, 0, false, {}});  // within the window
  publisher->publish(OutgoingMessage{"t/big", big, 0, false, {}});  // beyond, 3 MiB unwritten
  EXPECT_FALSE(publisher->stopped());
  publisher->publish(OutgoingMessage{"t/big", big, 0, false, {}});  // 6 MiB: waits
  EXPECT_EQ(publisher->stopped_by(), StoppedBy::timeout);
  EXPECT_EQ(link_->sent().size(), 2u);
}

TEST_F(PublisherTest, AFullWindowWithoutAcksSendsNothingMoreAndTimesOut) {
  auto publisher = make_publisher(options(2, 100ms));
  publisher->publish(message("a"));
  publisher->publish(message("b"));
  EXPECT_FALSE(publisher->stopped());
  auto before = std::chrono::steady_clock::now();
  publisher->publish(message("c"));  // waits for a free slot until the timeout
  EXPECT_GE(std::chrono::steady_clock::now() - before, 100ms);
  EXPECT_EQ(publisher->stopped_by(), StoppedBy::timeout);
  EXPECT_EQ(link_->sent().size(), 2u);  // "c" never reached the link
  EXPECT_EQ(publisher->progress().failed, 3u);
  EXPECT_EQ(dtbus::delivery::stop_message(publisher->progress()),
            "3 message(s) not acknowledged (no acknowledgement from " +
                link_->settings().describe() + " for 0.1 s); saved to " + failed_out_ +
                " (re-send with: dtbus pub --jsonl < " + failed_out_ + ")");
}

TEST_F(PublisherTest, AcknowledgementsOutOfOrderSettleTheRightMessages) {
  auto publisher = make_publisher(options(8));
  std::map<std::string, int> mid_of;
  for (const char* name : {"a", "b", "c", "d", "e"}) {
    publisher->publish(message(name), record_done(name));
    mid_of[name] = link_->sent().back().mid;
  }
  for (const char* name : {"c", "a", "e", "b", "d"}) link_->ack(mid_of[name]);
  DeliveryReport report = publisher->finish();
  EXPECT_TRUE(report.complete());
  EXPECT_EQ(report.acknowledged, 5u);
  std::vector<std::pair<std::string, bool>> expected = {
      {"c", true}, {"a", true}, {"e", true}, {"b", true}, {"d", true}};
  EXPECT_EQ(done_, expected);
}

TEST_F(PublisherTest, ARefusedMessageGoesToFailedOutAndTheRestAreAcknowledged) {
  auto publisher = make_publisher(options(8));
  std::map<std::string, int> mid_of;
  for (const char* name : {"a", "b", "c"}) {
    publisher->publish(message(name), record_done(name));
    mid_of[name] = link_->sent().back().mid;
  }
  link_->ack(mid_of["a"]);
  link_->ack(mid_of["b"], kNotAuthorized);
  link_->ack(mid_of["c"]);
  DeliveryReport report = publisher->finish();
  EXPECT_FALSE(report.complete());
  EXPECT_EQ(report.published, 3u);
  EXPECT_EQ(report.acknowledged, 2u);
  EXPECT_EQ(report.failed, 1u);
  EXPECT_EQ(report.stopped_by, StoppedBy::nothing);  // a rejection does not stop publishing
  EXPECT_EQ(report.failed_out_path, failed_out_);
  auto lines = failed_out_lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["topic"], "t/b");
  EXPECT_EQ(lines[0]["payload"], "b");
  EXPECT_EQ(lines[0]["qos"], 1);
  EXPECT_EQ(lines[0]["error"], "rejected by the broker: not authorized (0x87)");
  std::vector<std::pair<std::string, bool>> expected = {{"a", true}, {"b", false}, {"c", true}};
  EXPECT_EQ(done_, expected);
}

TEST_F(PublisherTest, PacketIdNotFoundAfterAPubrecCountsAsAcknowledgedForQos2Only) {
  auto publisher = make_publisher(options(8));
  publisher->publish(message("two", 2));
  publisher->publish(message("one", 1));
  auto sent = link_->sent();
  link_->ack(sent[0].mid, 0x92);
  link_->ack(sent[1].mid, 0x92);
  DeliveryReport report = publisher->finish();
  EXPECT_EQ(report.acknowledged, 1u);
  EXPECT_EQ(report.failed, 1u);
  auto lines = failed_out_lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["topic"], "t/one");
}

TEST_F(PublisherTest, NoProgressTimeoutInFinishSavesEveryPendingMessage) {
  auto publisher = make_publisher(options(8, 100ms));
  for (const char* name : {"a", "b", "c"}) publisher->publish(message(name), record_done(name));
  link_->ack(link_->sent()[0].mid);
  DeliveryReport report = publisher->finish();
  EXPECT_EQ(report.stopped_by, StoppedBy::timeout);
  EXPECT_EQ(report.stop_reason, "no acknowledgement from fake-broker:1883 for 0.1 s");
  EXPECT_EQ(report.acknowledged, 1u);
  EXPECT_EQ(report.failed, 2u);
  EXPECT_FALSE(report.complete());
  auto lines = failed_out_lines();
  ASSERT_EQ(lines.size(), 2u);
  std::set<std::string> saved;
  for (const auto& line : lines) {
    saved.insert(line["payload"].get<std::string>());
    EXPECT_EQ(line["error"], report.stop_reason);
  }
  EXPECT_EQ(saved, (std::set<std::string>{"b", "c"}));
  EXPECT_EQ(std::count(done_.begin(), done_.end(), std::pair<std::string, bool>{"a", true}), 1);
  EXPECT_EQ(std::count_if(done_.begin(), done_.end(), [](const auto& d) { return !d.second; }), 2);
}

TEST_F(PublisherTest, AfterATimeoutNothingIsSentAndLateAcksAreNotCounted) {
  auto publisher = make_publisher(options(2, 100ms));
  publisher->publish(message("a"));
  publisher->publish(message("b"));
  publisher->publish(message("c"));  // times out
  ASSERT_EQ(publisher->stopped_by(), StoppedBy::timeout);
  publisher->publish(message("d"));  // not sent: saved at once
  EXPECT_EQ(link_->sent().size(), 2u);
  link_->ack_all_pending();  // the broker answers at last
  DeliveryReport report = publisher->finish();
  EXPECT_EQ(report.published, 2u);
  EXPECT_EQ(report.acknowledged, 0u);
  EXPECT_EQ(report.failed, 4u);
  EXPECT_EQ(report.stopped_by, StoppedBy::timeout);
  EXPECT_EQ(failed_out_lines().size(), 4u);
}

TEST_F(PublisherTest, MessageIdsWrappingPast65535AreAccountedCorrectly) {
  constexpr size_t kWindow = 3;
  constexpr int kCount = 20;
  auto publisher = make_publisher(options(kWindow, 2s), /*first_mid=*/65530);
  std::map<std::string, int> fates;
  for (int i = 0; i < kCount; ++i) {
    std::string name = std::to_string(i);
    publisher->publish(message(name), [&fates, name](bool ok) { fates[name] += ok ? 1 : 100; });
    auto pending = link_->pending_mids();
    // Newest first, so that the ids on both sides of the wrap are pending together.
    if (pending.size() == kWindow) link_->ack(link_->sent().back().mid);
  }
  link_->ack_all_pending();
  DeliveryReport report = publisher->finish();
  EXPECT_TRUE(report.complete());
  EXPECT_EQ(report.acknowledged, static_cast<uint64_t>(kCount));
  std::set<int> mids;
  for (const auto& s : link_->sent()) mids.insert(s.mid);
  EXPECT_TRUE(mids.count(65535) == 1 && mids.count(1) == 1 && mids.count(0) == 0);
  ASSERT_EQ(fates.size(), static_cast<size_t>(kCount));
  for (const auto& [name, fate] : fates) EXPECT_EQ(fate, 1) << name;
}

TEST_F(PublisherTest, AReconnectNeitherLosesNorDoubleCountsQos1Messages) {
  auto publisher = make_publisher(options(8));
  for (const char* name : {"a", "b", "c", "d"})
    publisher->publish(message(name), record_done(name));
  auto sent = link_->sent();
  link_->ack(sent[0].mid);
  link_->drop();
  link_->reconnect();       // libmosquitto resends b, c, d itself under the same ids
  link_->ack(sent[0].mid);  // a stray duplicate for "a"
  for (size_t i = 1; i < sent.size(); ++i) link_->ack(sent[i].mid);
  DeliveryReport report = publisher->finish();
  EXPECT_TRUE(report.complete());
  EXPECT_EQ(report.published, 4u);
  EXPECT_EQ(report.acknowledged, 4u);
  EXPECT_EQ(link_->sent().size(), 4u);  // QoS 1 is not published again by the publisher
  EXPECT_EQ(done_.size(), 4u);
}

TEST_F(PublisherTest, AReconnectPublishesUnwrittenQos0AgainAndCountsItOnce) {
  auto publisher = make_publisher(options(8));
  publisher->publish(message("x", 0));
  publisher->publish(message("y", 0), record_done("y"));
  auto first = link_->sent();
  link_->ack(first[0].mid);  // "x" written; "y" is lost with the link
  link_->drop();
  link_->reconnect();
  publisher->publish(message("z", 0));  // handles the reconnect first: "y" goes out again
  auto sent = link_->sent();
  ASSERT_EQ(sent.size(), 4u);
  EXPECT_EQ(sent[2].payload, "y");
  EXPECT_NE(sent[2].mid, first[1].mid);
  EXPECT_EQ(sent[3].payload, "z");
  link_->ack(first[1].mid);  // a stale report for the lost copy is ignored
  link_->ack_all_pending();
  DeliveryReport report = publisher->finish();
  EXPECT_TRUE(report.complete());
  EXPECT_EQ(report.published, 3u);
  EXPECT_EQ(report.acknowledged, 3u);
  EXPECT_EQ(done_, (std::vector<std::pair<std::string, bool>>{{"y", true}}));
  EXPECT_FALSE(link_->qos0_while_down());
}

TEST_F(PublisherTest, AQos0MessageCountsOnceWritten) {
  auto publisher = make_publisher(options(8));
  publisher->publish(message("x", 0));
  EXPECT_EQ(publisher->progress().acknowledged, 0u);
  link_->ack(link_->sent()[0].mid);  // written to the socket
  DeliveryReport report = publisher->finish();
  EXPECT_TRUE(report.complete());
  EXPECT_EQ(report.acknowledged, 1u);
}

TEST_F(PublisherTest, AQos0MessageWaitsForTheLinkAndGoesOutAfterTheReconnect) {
  auto publisher = make_publisher(options(8));
  link_->drop();
  // Acknowledges everything, also a second copy: one published just as the reconnect is
  // reported may go out again ("rarely twice"), and must still count once.
  std::thread broker([link = link_] { link->serve(1); });
  std::thread publishing([&] { publisher->publish(message("x", 0)); });
  link_->reconnect();
  EXPECT_TRUE(link_->wait_sent(1));
  publishing.join();
  DeliveryReport report = publisher->finish();
  link_->stop_serving();
  broker.join();
  EXPECT_FALSE(link_->qos0_while_down());
  EXPECT_EQ(link_->sent()[0].payload, "x");
  EXPECT_TRUE(report.complete());
  EXPECT_EQ(report.acknowledged, 1u);
}

TEST_F(PublisherTest, AQos0MessageIsNotWrittenWhileTheLinkIsDown) {
  auto publisher = make_publisher(options(8, 100ms));
  link_->drop();
  publisher->publish(message("x", 0));
  EXPECT_EQ(publisher->stopped_by(), StoppedBy::timeout);
  EXPECT_TRUE(link_->sent().empty());
  DeliveryReport report = publisher->finish();
  EXPECT_EQ(report.failed, 1u);
  EXPECT_EQ(report.published, 0u);
}

TEST_F(PublisherTest, AMessageTheLinkRefusesStopsPublishingWithoutThrowing) {
  auto publisher = make_publisher(options(8));
  link_->refuse_topic("t/bad");
  publisher->publish(message("good"));
  EXPECT_NO_THROW(publisher->publish(message("bad")));
  EXPECT_EQ(publisher->stopped_by(), StoppedBy::refused);
  DeliveryReport so_far = publisher->progress();
  ASSERT_TRUE(so_far.refusal.has_value());
  EXPECT_EQ(so_far.refusal->code(), ExitCode::usage);
  EXPECT_EQ(so_far.stop_reason, "invalid topic 't/bad'");
  EXPECT_EQ(so_far.failed, 0u);          // the refused message is not in failed-out
  publisher->publish(message("later"));  // not sent: publishing has stopped
  EXPECT_EQ(link_->sent().size(), 1u);
  link_->ack_all_pending();  // what was in flight is still awaited
  DeliveryReport report = publisher->finish();
  EXPECT_EQ(report.published, 1u);
  EXPECT_EQ(report.acknowledged, 1u);
  EXPECT_EQ(report.failed, 1u);
  auto lines = failed_out_lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["payload"], "later");
  EXPECT_EQ(lines[0]["error"], "not sent: an earlier message was refused (invalid topic 't/bad')");
}

// The signal flag cannot be cleared, so this runs in a child process.
TEST_F(PublisherTest, ASignalStopsPublishingAndSavesWhatIsUnsentOrUnacknowledged) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  auto child = [this] {
    auto publisher = make_publisher(options(8, 100ms));
    publisher->publish(message("a"));
    dtbus::interrupt::install();
    std::raise(SIGINT);
    publisher->publish(message("b"));
    bool ok = publisher->stopped_by() == StoppedBy::signal && link_->sent().size() == 1;
    DeliveryReport report = publisher->finish();
    ok = ok && report.failed == 2 && report.published == 1;
    auto lines = failed_out_lines();
    ok = ok && lines.size() == 2 && lines[0]["payload"] == "b" &&
         lines[0]["error"] == std::string(dtbus::delivery::kNotSentAfterSignal) &&
         lines[1]["payload"] == "a" &&
         lines[1]["error"] == "not acknowledged before the interruption by a signal";
    std::exit(ok ? 0 : 1);
  };
  EXPECT_EXIT(child(), testing::ExitedWithCode(0), "");
}

}  // namespace

namespace {

TEST_F(PublisherTest, AMessageTooLargeForTheLinkIsSavedAndPublishingGoesOn) {
  auto publisher = make_publisher(options(8));
  link_->refuse_larger_than(2);
  publisher->publish(message("a"), record_done("a"));
  OutgoingMessage big = message("big");
  big.input_line = 2;
  publisher->publish(big, record_done("big"));
  EXPECT_EQ(publisher->stopped_by(), StoppedBy::nothing);
  publisher->publish(message("c"), record_done("c"));
  link_->ack_all_pending();
  DeliveryReport report = publisher->finish();
  EXPECT_EQ(report.published, 2u);
  EXPECT_EQ(report.acknowledged, 2u);
  EXPECT_EQ(report.failed, 1u);
  EXPECT_FALSE(report.complete());
  auto lines = failed_out_lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["payload"], "big");
  EXPECT_EQ(lines[0]["error"], "message too large for the broker");
  std::vector<std::pair<std::string, bool>> expected = {{"big", false}, {"a", true}, {"c", true}};
  EXPECT_EQ(done_, expected);
}

TEST_F(PublisherTest, OnRefusedSeesTheMessageAndMayKeepItOutOfFailedOut) {
  DeliveryOptions o = options(8);
  std::vector<uint64_t> refused_lines;
  o.on_refused = [&](const OutgoingMessage& m, const std::string& why) {
    refused_lines.push_back(m.input_line);
    EXPECT_EQ(why, "message too large for the broker");
    return false;
  };
  auto publisher = make_publisher(o);
  link_->refuse_larger_than(2);
  OutgoingMessage big = message("big");
  big.input_line = 7;
  publisher->publish(big);
  publisher->publish(message("a"));
  link_->ack_all_pending();
  DeliveryReport report = publisher->finish();
  EXPECT_EQ(refused_lines, std::vector<uint64_t>{7});
  EXPECT_EQ(report.failed, 0u);
  EXPECT_TRUE(report.complete());
  EXPECT_FALSE(fs::exists(failed_out_));
}

TEST_F(PublisherTest, AFailedOutFileThatCannotBeCreatedStopsBeforeConnecting) {
  DeliveryOptions o = options(8);
  o.failed_out = failed_out_ + ".missing-dir/failed.jsonl";
  try {
    make_publisher(o);
    FAIL() << "no error";
  } catch (const dtbus::Error& e) {
    EXPECT_EQ(e.code(), ExitCode::runtime);
    EXPECT_NE(std::string(e.what()).find(o.failed_out), std::string::npos) << e.what();
  }
  EXPECT_EQ(links_made_, 0);
}

TEST_F(PublisherTest, TheFailedOutFileIsPrivateAndAnExistingOneIsKept) {
  {
    auto publisher = make_publisher(options(8, 50ms));
    publisher->publish(message("a"));
    DeliveryReport report = publisher->finish();  // times out
    EXPECT_EQ(report.failed, 1u);
    EXPECT_EQ(report.unsaved, 0u);
  }
  struct stat status {};
  ASSERT_EQ(stat(failed_out_.c_str(), &status), 0);
  EXPECT_EQ(status.st_mode & 0777, 0600u);
  {
    auto publisher = make_publisher(options(8));
    publisher->publish(message("b"));
    link_->ack_all_pending();
    EXPECT_TRUE(publisher->finish().complete());
  }
  EXPECT_EQ(failed_out_lines().size(), 1u);  // appended to, not removed
}

TEST_F(PublisherTest, AFailedOutFileThatCannotBeWrittenIsCountedNotClaimed) {
  if (!fs::exists("/dev/full")) GTEST_SKIP() << "no /dev/full";
  DeliveryOptions o = options(8, 50ms);
  o.failed_out = "/dev/full";
  auto publisher = make_publisher(o);
  for (const char* name : {"a", "b", "c"}) publisher->publish(message(name));
  DeliveryReport report = publisher->finish();
  EXPECT_EQ(report.failed, 3u);
  EXPECT_EQ(report.unsaved, 3u);
  EXPECT_EQ(report.saved(), 0u);
  EXPECT_NE(report.failed_out_error.find("No space left"), std::string::npos);
  EXPECT_EQ(dtbus::delivery::saved_text(report),
            "none of them could be saved (/dev/full: No space left on device)");
}

TEST_F(PublisherTest, ConnectionsLostEachTimeTheSameMessageIsResentRefuseItOnANewLink) {
  auto publisher = make_publisher(options(8));
  for (const char* name : {"a", "big", "c"}) publisher->publish(message(name), record_done(name));
  auto sent = link_->sent();
  link_->ack(sent[0].mid);
  FakeLink* first = link_;
  for (int i = 0; i < 3; ++i) {  // the broker drops the link each time "big" arrives
    first->drop();
    if (i < 2) first->reconnect();
    publisher->progress();
    publisher->publish(message("d" + std::to_string(i), 0));  // handles the events
    if (i < 2) first->ack(first->sent().back().mid);          // (QoS 0 written)
  }
  // A fresh link carries the suspect alone ("c" and "d2" are held back)...
  ASSERT_EQ(links_made_, 2);
  ASSERT_EQ(link_->sent().size(), 1u);
  EXPECT_EQ(link_->sent()[0].payload, "big");
  // ...and the broker closes it too: refused; a third link gets the others, in order.
  link_->drop();
  publisher->publish(message("e", 0));  // handles the events
  ASSERT_EQ(links_made_, 3);
  std::vector<std::string> resent;
  for (const auto& s : link_->sent()) resent.push_back(s.payload);
  EXPECT_EQ(resent, (std::vector<std::string>{"c", "d2", "e"}));
  link_->ack_all_pending();
  DeliveryReport report = publisher->finish();
  auto lines = failed_out_lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["payload"], "big");
  EXPECT_EQ(report.failed, 1u);
  EXPECT_EQ(report.acknowledged, report.published);  // "big" counts as refused, not published
  EXPECT_EQ(report.published, 6u);
}

// The close can be a reset that discards PUBACKs already sent, so the oldest unacknowledged
// message is only a suspect: acknowledged when sent alone, it is not refused.
TEST_F(PublisherTest, ASuspectAcknowledgedWhenSentAloneIsNotRefused) {
  auto publisher = make_publisher(options(8));
  for (const char* name : {"a", "b"}) publisher->publish(message(name), record_done(name));
  FakeLink* first = link_;
  for (int i = 0; i < 3; ++i) {  // "a"'s PUBACK is lost each time
    first->drop();
    if (i < 2) first->reconnect();
    publisher->publish(message("q" + std::to_string(i), 0));  // handles the events
    if (i < 2) first->ack(first->sent().back().mid);          // (QoS 0 written)
  }
  ASSERT_EQ(links_made_, 2);
  ASSERT_EQ(link_->sent().size(), 1u);
  EXPECT_EQ(link_->sent()[0].payload, "a");
  link_->ack(link_->sent()[0].mid);
  publisher->publish(message("c"));  // handles the events: "b", "q2" follow "a", then "c"
  std::vector<std::string> sent;
  for (const auto& s : link_->sent()) sent.push_back(s.payload);
  EXPECT_EQ(sent, (std::vector<std::string>{"a", "b", "q2", "c"}));
  link_->ack_all_pending();
  DeliveryReport report = publisher->finish();
  EXPECT_TRUE(failed_out_lines().empty());
  EXPECT_EQ(report.failed, 0u);
  EXPECT_EQ(report.acknowledged, report.published);
}

}  // namespace
