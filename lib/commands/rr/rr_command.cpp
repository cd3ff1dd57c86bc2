// SPDX-License-Identifier: Apache-2.0
#include "dtbus/commands/rr/rr_command.hpp"

#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <sstream>

#include <spdlog/spdlog.h>

#include "dtbus/commands/message_format.hpp"
#include "dtbus/core/error.hpp"
#include "dtbus/core/record.hpp"
#include "dtbus/core/topic.hpp"
#include "dtbus/mqtt/connection.hpp"
#include "dtbus/target/target.hpp"
#include "dtbus/util/interrupt.hpp"
#include "dtbus/util/json.hpp"
#include "dtbus/util/terminal.hpp"
#include "dtbus/util/time.hpp"

namespace dtbus::commands::rr {
namespace {

using Clock = std::chrono::steady_clock;
using SystemClock = std::chrono::system_clock;

std::string request_payload(const Options& o) {
  int given = (o.message ? 1 : 0) + (o.file ? 1 : 0) + (o.null_message ? 1 : 0);
  if (given != 1) throw Error(ExitCode::usage, "give the request as exactly one of -m, -f or -n");
  if (o.message) return *o.message;
  if (o.null_message) return {};
  std::ifstream in(*o.file, std::ios::binary);
  if (!in) throw Error(ExitCode::usage, "-f " + *o.file + ": cannot read file");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// 16 hex digits, unique enough to tell this run's responses from another's on a shared topic.
std::string random_correlation() {
  std::random_device device;
  std::uniform_int_distribution<unsigned> nibble(0, 15);
  std::string out;
  for (int i = 0; i < 16; ++i) out.push_back("0123456789abcdef"[nibble(device)]);
  return out;
}

struct Inbox {
  std::mutex mutex;
  std::condition_variable arrived;
  std::deque<std::pair<ReceivedMessage, SystemClock::time_point>> messages;
  std::set<int> acknowledged;  // mids of the request (QoS > 0)
  std::optional<int> rejected_reason;
};

}  // namespace

int run(const Invocation& invocation, const Options& o) {
  topic::require_publish_topic(o.request_topic);
  topic::require_publish_topic(o.response_topic);  // one topic, no wildcards: we publish to it
  if (o.count == 0) throw Error(ExitCode::usage, "-C must be at least 1");
  if (o.wait_s <= 0) throw Error(ExitCode::usage, "-W must be > 0 seconds");
  std::string payload = request_payload(o);
  MessageWriter writer(o.format, invocation.output, invocation.globals.color_stdout());

  target::Target target = target::resolve(invocation.globals, "rr");
  const mqtt::ConnectionSettings& settings = target.connection;
  bool v5 = settings.protocol == 5;
  std::string request_topic = settings.prefixed(o.request_topic);
  std::string response_topic = settings.prefixed(o.response_topic);
  std::string correlation = o.correlation_data.value_or(random_correlation());
  if (correlation.size() > 65535) throw Error(ExitCode::usage, "--correlation-data is too long");

  interrupt::install();
  Inbox inbox;
  mqtt::Handlers handlers;
  handlers.on_message = [&](ReceivedMessage& m) {
    if (m.retain) {
      spdlog::debug("ignored a retained message on {}: not a response to this request", m.topic);
      return;
    }
    // A response with another request's correlation data is not ours; one without any (a
    // responder that does not echo it, or MQTT 3.1.1) is taken.
    if (v5 && !m.properties.correlation_data.empty() &&
        m.properties.correlation_data != correlation) {
      spdlog::debug("ignored a response on {} with other correlation data", m.topic);
      return;
    }
    std::lock_guard lock(inbox.mutex);
    inbox.messages.emplace_back(std::move(m), SystemClock::now());
    inbox.arrived.notify_all();
  };
  handlers.on_publish = [&](int mid, int reason) {
    std::lock_guard lock(inbox.mutex);
    if (reason >= 0x80) inbox.rejected_reason = reason;
    inbox.acknowledged.insert(mid);
    inbox.arrived.notify_all();
  };

  mqtt::Connection connection(settings, handlers);
  connection.connect();
  mqtt::Subscription subscription;
  subscription.filter = response_topic;
  subscription.qos = o.qos;
  subscription.retain_handling = 2;  // a stale retained message is no response
  connection.subscribe({subscription});

  MessageProperties properties;
  if (v5) {
    properties.response_topic = response_topic;
    properties.correlation_data = correlation;
  }
  int mid = connection.publish(request_topic, payload, o.qos, false, properties);
  spdlog::info("request sent on {} (QoS {}){}", request_topic, o.qos,
               v5 ? ", response topic " + response_topic : "");

  auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                     std::chrono::duration<double>(o.wait_s));
  uint64_t received = 0;
  std::string out;
  while (received < o.count) {
    std::unique_lock lock(inbox.mutex);
    if (inbox.rejected_reason) {
      throw Error(ExitCode::runtime, "the broker refused the request on " + request_topic +
                                         " (reason " + std::to_string(*inbox.rejected_reason) +
                                         ")");
    }
    if (inbox.messages.empty()) {
      if (interrupt::interrupted()) {
        throw Error(ExitCode::interrupted, "interrupted while waiting for a response");
      }
      if (Clock::now() >= deadline) break;
      auto step = std::min(deadline, Clock::now() + std::chrono::milliseconds(100));
      inbox.arrived.wait_until(lock, step);
      continue;
    }
    auto [m, at] = std::move(inbox.messages.front());
    inbox.messages.pop_front();
    lock.unlock();
    out.clear();
    record::Json parsed;
    if (writer.needs_json()) parsed = util::parse_json(m.payload);
    writer.append(out, m, at, &parsed);
    util::write_stdout(out);
    ++received;
  }
  bool request_acknowledged;
  {
    std::lock_guard lock(inbox.mutex);
    request_acknowledged = o.qos == 0 || inbox.acknowledged.contains(mid);
  }
  connection.disconnect();
  if (received < o.count) {
    std::string what = received == 0 ? "no response"
                                     : "only " + std::to_string(received) + " of " +
                                           std::to_string(o.count) + " responses";
    std::string wait_text = std::to_string(o.wait_s);
    wait_text.erase(wait_text.find_last_not_of('0') + 1);
    if (wait_text.back() == '.') wait_text.pop_back();
    throw Error(ExitCode::timeout,
                what + " on " + response_topic + " within " + wait_text + " s" +
                    (request_acknowledged ? "" : " (the broker did not acknowledge the request)"));
  }
  return 0;
}

}  // namespace dtbus::commands::rr
