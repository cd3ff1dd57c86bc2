// SPDX-License-Identifier: Apache-2.0
#include "dtbus/commands/probe/probe_command.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <type_traits>
#include <utility>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "dtbus/core/error.hpp"
#include "dtbus/mqtt/broker_info.hpp"
#include "dtbus/mqtt/connection.hpp"
#include "dtbus/mqtt/protocol_check.hpp"
#include "dtbus/target/target.hpp"
#include "dtbus/util/interrupt.hpp"
#include "dtbus/util/json.hpp"
#include "dtbus/util/terminal.hpp"
#include "dtbus/util/time.hpp"

namespace dtbus::commands::probe {
namespace {

using json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

constexpr auto kInterruptPoll = std::chrono::milliseconds(100);

// Messages the probe's own subscriptions bring back, in arrival order.
class Inbox {
 public:
  void push(ReceivedMessage& message) {
    std::lock_guard lock(mutex_);
    messages_.push_back(std::move(message));
    changed_.notify_all();
  }
  void connected() {
    std::lock_guard lock(mutex_);
    down_since_.reset();
  }
  // Counts a link that was up and went down (the failed reconnects after it are not losses).
  void lost(const std::string& reason) {
    std::lock_guard lock(mutex_);
    if (down_since_) return;
    down_since_ = Clock::now();
    lost_reasons_.push_back(reason);
    changed_.notify_all();
  }
  int lost_count() {
    std::lock_guard lock(mutex_);
    return static_cast<int>(lost_reasons_.size());
  }
  // Why the link was lost the (index+1)th time.
  std::string lost_reason(int index) {
    std::lock_guard lock(mutex_);
    if (index < 0 || index >= static_cast<int>(lost_reasons_.size())) return "no reason given";
    return lost_reasons_[static_cast<size_t>(index)];
  }
  // Since when the link is down (nullopt while it is up).
  std::optional<Clock::time_point> down_since() {
    std::lock_guard lock(mutex_);
    return down_since_;
  }
  // Removes and returns the first message `match` accepts; nullopt after `timeout`, or at once
  // when the connection was lost more often than `lost_before` times.
  std::optional<ReceivedMessage> take(const std::function<bool(const ReceivedMessage&)>& match,
                                      std::chrono::duration<double> timeout, int lost_before = -1) {
    std::unique_lock lock(mutex_);
    auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(timeout);
    std::optional<ReceivedMessage> found;
    auto done = [&] {
      auto it = std::find_if(messages_.begin(), messages_.end(), match);
      if (it != messages_.end()) {
        found = std::move(*it);
        messages_.erase(it);
        return true;
      }
      return lost_before >= 0 && static_cast<int>(lost_reasons_.size()) > lost_before;
    };
    // Short steps: SIGINT/SIGTERM ends the probe at once (exit 130), not after the timeout.
    while (!changed_.wait_until(lock, std::min(deadline, Clock::now() + kInterruptPoll), done)) {
      if (interrupt::interrupted()) throw Error(ExitCode::interrupted, "interrupted");
      if (Clock::now() >= deadline) break;
    }
    return found;
  }
  // Whether a message `match` accepts is waiting (without taking it).
  bool holds(const std::function<bool(const ReceivedMessage&)>& match) {
    std::lock_guard lock(mutex_);
    return std::any_of(messages_.begin(), messages_.end(), match);
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<ReceivedMessage> messages_;
  std::vector<std::string> lost_reasons_;
  std::optional<Clock::time_point> down_since_;
};

// Gives the link up (disconnect) once it has been down for `grace`, or at SIGINT/SIGTERM: a
// QoS 0 publish waits for the link, and would wait forever for a broker that is gone.
class LinkWatch {
 public:
  LinkWatch(mqtt::Connection& connection, Inbox& inbox, std::chrono::duration<double> grace)
      : connection_(connection), inbox_(inbox), grace_(grace), thread_([this] { watch(); }) {}
  ~LinkWatch() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    stopped_.notify_all();
    thread_.join();
  }
  LinkWatch(const LinkWatch&) = delete;
  LinkWatch& operator=(const LinkWatch&) = delete;

 private:
  void watch() {
    std::unique_lock lock(mutex_);
    while (!stopped_.wait_for(lock, kInterruptPoll, [&] { return stop_; })) {
      auto down = inbox_.down_since();
      if (interrupt::interrupted() || (down && Clock::now() - *down >= grace_)) {
        connection_.disconnect();
        return;
      }
    }
  }

  mqtt::Connection& connection_;
  Inbox& inbox_;
  std::chrono::duration<double> grace_;
  std::mutex mutex_;
  std::condition_variable stopped_;
  bool stop_ = false;
  std::thread thread_;  // last: starts once the members above exist
};

struct CheckResult {
  std::string status = "pass";  // pass | fail | warn | skip
  std::string detail;
  json data = json::object();  // check-specific values, merged into its JSON object
  bool not_run = false;        // a skip because the link to the broker was gone
};

CheckResult pass(std::string detail) { return {"pass", std::move(detail), json::object()}; }
CheckResult fail(std::string detail) { return {"fail", std::move(detail), json::object()}; }
CheckResult skip(std::string detail) { return {"skip", std::move(detail), json::object()}; }

std::string ms_text(double ms) {
  char text[32];
  std::snprintf(text, sizeof(text), ms < 10 ? "%.2f ms" : "%.1f ms", ms);
  return text;
}

double round3(double value) { return std::round(value * 1000.0) / 1000.0; }

std::string random_id() {
  std::random_device device;
  std::uniform_int_distribution<uint32_t> pick;
  char text[32];
  std::snprintf(text, sizeof(text), "%08x-%d", pick(device), static_cast<int>(getpid()));
  return text;
}

// Nearest-rank percentile of sorted values.
double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  auto rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

class Prober {
 public:
  Prober(mqtt::Connection& connection, Inbox& inbox, const Options& options, std::string base,
         std::chrono::duration<double> grace)
      : connection_(connection),
        inbox_(inbox),
        options_(options),
        base_(std::move(base)),
        info_(connection.broker_info()),
        wait_(options.timeout),
        grace_(grace),
        lost_seen_(inbox.lost_count()) {}

  // Runs one check. The link lost while it runs (or since the check before) fails it; when the
  // link is not back within the reconnect grace, the checks after it that need the broker are
  // not run.
  CheckResult run(const std::string& name) {
    bool needs_link = name != "certificate";
    if (needs_link && gone_) {
      CheckResult result = skip("not run: the connection was lost during " + *gone_ +
                                " and not back within " + seconds_text(grace_));
      result.not_run = true;
      return result;
    }
    spdlog::info("running check {}", name);
    CheckResult result = attempt(name);
    if (interrupt::interrupted()) throw Error(ExitCode::interrupted, "interrupted");
    if (!needs_link) return result;
    int lost = inbox_.lost_count();
    // The payload search makes the broker drop the link; only a link that stays down counts.
    bool payload = name == "payload";
    bool link_lost = payload ? !connection_.connected() : lost > lost_seen_;
    if (!link_lost) {
      lost_seen_ = lost;
      return result;
    }
    std::string reason = inbox_.lost_reason(payload ? lost - 1 : lost_seen_);
    auto grace_ms = std::chrono::duration_cast<std::chrono::milliseconds>(grace_);
    if (connection_.wait_connected(grace_ms)) {
      lost_seen_ = inbox_.lost_count();
      return fail("connection lost: " + reason + " (reconnected)");
    }
    gone_ = name;
    spdlog::warn("the connection to {} was not back within {}: the checks after {} do not run",
                 connection_.settings().describe(), seconds_text(grace_), name);
    return fail("connection lost: " + reason + " (not back within " + seconds_text(grace_) + ")");
  }

 private:
  CheckResult attempt(const std::string& name) {
    try {
      if (name == "certificate") return certificate();
      if (name == "qos0" || name == "qos1" || name == "qos2") return round_trip(name.back() - '0');
      if (name == "retain") return retain();
      if (name == "wildcards") return wildcards();
      if (name == "shared") return shared();
      if (name == "payload") return payload();
      if (name == "mqtt5") return protocol(5);
      if (name == "mqtt311") return protocol(311);
      if (name == "mqtt31") return protocol(31);
      if (name == "sys") return sys();
      if (name == "latency") return latency();
    } catch (const Error& e) {
      if (e.code() == ExitCode::interrupted) throw;
      return fail(e.what());
    }
    return fail("unknown check");
  }

  static std::string seconds_text(std::chrono::duration<double> seconds) {
    char text[32];
    std::snprintf(text, sizeof(text), "%g s", seconds.count());
    return text;
  }

  // The next message `match` accepts; nullopt after `timeout`, or at once once the link was lost.
  std::optional<ReceivedMessage> await(const std::function<bool(const ReceivedMessage&)>& match,
                                       std::chrono::duration<double> timeout) {
    return inbox_.take(match, timeout, lost_seen_);
  }

  std::function<bool(const ReceivedMessage&)> on(const std::string& topic,
                                                 const std::string& payload) {
    return [topic, payload](const ReceivedMessage& m) {
      return m.topic == topic && m.payload == payload;
    };
  }

  int subscribe(const std::string& filter, int qos) {
    return connection_.subscribe({{filter, std::min(qos, info_.effective_maximum_qos())}}).front();
  }

  CheckResult certificate() {
    if (!info_.tls) return skip("not a TLS connection");
    const auto& tls = *info_.tls;
    auto days = tls.days_left(std::chrono::system_clock::now());
    if (!days) return skip("the server sent no certificate");
    CheckResult result = pass("expires in " + std::to_string(*days) + " days");
    result.data["days_left"] = *days;
    if (*days < 0) {
      result.status = "fail";
      result.detail = "expired " + std::to_string(-*days) + " days ago";
    } else if (*days < options_.cert_warn_days) {
      result.status = "warn";
      result.detail += " (fewer than " + std::to_string(options_.cert_warn_days) + ")";
    }
    return result;
  }

  CheckResult round_trip(int qos) {
    if (qos > info_.effective_maximum_qos()) {
      return skip("the broker's maximum QoS is " + std::to_string(info_.effective_maximum_qos()));
    }
    std::string topic = base_ + "/qos" + std::to_string(qos);
    int granted = subscribe(topic, qos);
    std::string payload = "dtbus probe qos" + std::to_string(qos);
    auto started = Clock::now();
    connection_.publish(topic, payload, qos, false);
    auto echo = await(on(topic, payload), wait_);
    if (!echo) return fail("no echo within " + ms_text(wait_.count() * 1000));
    double ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
    int expected = std::min(qos, granted);
    if (echo->qos != expected) {
      return fail("delivered at QoS " + std::to_string(echo->qos) + ", expected " +
                  std::to_string(expected));
    }
    CheckResult result = pass("round trip " + ms_text(ms));
    result.data["round_trip_ms"] = round3(ms);
    return result;
  }

  CheckResult retain() {
    if (!info_.effective_retain_available()) return skip("the broker declares retain unavailable");
    std::string topic = base_ + "/retain";
    std::string payload = "dtbus probe retained";
    int qos = std::min(1, info_.effective_maximum_qos());
    connection_.publish(topic, payload, qos, true);
    // The broker handles our packets in order: the PUBLISH is stored before the SUBSCRIBE.
    subscribe(topic, 1);
    auto stored = await(on(topic, payload), wait_);
    if (!stored) return fail("the retained message was not delivered to a new subscription");
    if (!stored->retain) return fail("delivered to a new subscription without the retain flag");
    connection_.publish(topic, "", qos, true);  // clears it
    if (!await(on(topic, ""), wait_)) return fail("the clearing message was not delivered");
    // Subscribing again sends what is retained; the marker after it shows nothing was.
    subscribe(topic, 1);
    std::string marker = "dtbus probe marker";
    connection_.publish(topic, marker, qos, false);
    if (!await(on(topic, marker), wait_)) return fail("no echo of the marker message");
    if (inbox_.holds([&](const ReceivedMessage& m) { return m.topic == topic && m.retain; })) {
      return fail("the retained message was stored but not cleared");
    }
    return pass("stored and cleared");
  }

  CheckResult wildcards() {
    if (!info_.effective_wildcards()) return skip("the broker declares wildcards unavailable");
    std::string plus = base_ + "/plus/+/leaf";
    std::string hash = base_ + "/hash/#";
    subscribe(plus, 1);
    subscribe(hash, 1);
    std::string deeper = base_ + "/plus/a/b/leaf";  // + matches one level only
    std::string one = base_ + "/plus/a/leaf";
    std::string many = base_ + "/hash/a/b/c";
    int qos = std::min(1, info_.effective_maximum_qos());
    connection_.publish(deeper, "x", qos, false);
    connection_.publish(one, "x", qos, false);
    connection_.publish(many, "x", qos, false);
    if (!await(on(one, "x"), wait_)) return fail("'+' did not match " + one);
    if (!await(on(many, "x"), wait_)) return fail("'#' did not match " + many);
    if (inbox_.holds([&](const ReceivedMessage& m) { return m.topic == deeper; })) {
      return fail("'+' matched more than one level: " + deeper);
    }
    return pass("'+' and '#' match as specified");
  }

  CheckResult shared() {
    if (!info_.effective_shared()) {
      return skip("the broker declares shared subscriptions unavailable");
    }
    std::string topic = base_ + "/shared";
    subscribe("$share/dtbus-probe/" + topic, 1);
    connection_.publish(topic, "x", std::min(1, info_.effective_maximum_qos()), false);
    if (!await(on(topic, "x"), wait_)) return fail("nothing delivered through $share");
    return pass("$share/GROUP/... delivers");
  }

  // QoS 0 on purpose: a broker that drops the connection for a too large message must not get
  // it again after the reconnect.
  bool payload_accepted(size_t size) {
    std::string topic = base_ + "/payload";
    std::string tag = "p" + std::to_string(++trials_) + ":";
    std::string payload = tag + std::string(size > tag.size() ? size - tag.size() : 0, 'x');
    payload.resize(size);
    int lost = inbox_.lost_count();
    try {
      connection_.publish(topic, payload, 0, false);
    } catch (const Error& e) {
      // (the link given up: LinkWatch)
      if (e.code() == ExitCode::interrupted || !connection_.connected()) throw;
      return false;  // refused before sending: larger than the broker's declared maximum
    }
    auto echo = inbox_.take(
        [&](const ReceivedMessage& m) {
          // (a payload shorter than its tag carries only a part of it: compare it whole)
          return m.topic == topic && m.payload.size() == size &&
                 (size < tag.size() ? m.payload == payload : m.payload.starts_with(tag));
        },
        wait_, lost);
    if (!echo && inbox_.lost_count() > lost &&
        !connection_.wait_connected(
            std::chrono::duration_cast<std::chrono::milliseconds>(grace_))) {
      throw Error(ExitCode::connect, "the connection was not back");  // ends the search
    }
    return echo.has_value();
  }

  // A broker that does not declare its limit closes the connection on a message over it; the
  // search expects that, so the reconnect warnings stay quiet (unless -v asked for more).
  struct QuietReconnects {
    bool active = spdlog::get_level() == spdlog::level::warn;
    QuietReconnects() {
      if (active) spdlog::set_level(spdlog::level::err);
    }
    ~QuietReconnects() {
      if (active) spdlog::set_level(spdlog::level::warn);
    }
    QuietReconnects(const QuietReconnects&) = delete;
    QuietReconnects& operator=(const QuietReconnects&) = delete;
  };

  CheckResult payload() {
    QuietReconnects quiet;
    int drops_before = inbox_.lost_count();
    subscribe(base_ + "/payload", 0);
    size_t cap = options_.max_payload_check;
    size_t high = cap;
    if (info_.maximum_packet_size) high = std::min<size_t>(high, *info_.maximum_packet_size);
    size_t largest = 0;
    if (payload_accepted(high)) {
      largest = high;
    } else {
      size_t low = 0;  // largest accepted so far
      while (high - low > 1) {
        size_t middle = low + (high - low) / 2;
        (payload_accepted(middle) ? low : high) = middle;
      }
      largest = low;
    }
    CheckResult result = pass("");
    result.data["largest_bytes"] = largest;
    result.data["cap_bytes"] = cap;
    result.data["cap_reached"] = largest >= cap;
    if (largest == 0) return {"fail", "no payload was delivered", result.data};
    result.detail = largest >= cap ? "at least " + std::to_string(largest) +
                                         " bytes (the --max-payload-check cap)"
                                   : std::to_string(largest) + " bytes";
    if (info_.maximum_packet_size) {
      result.detail +=
          ", maximum packet size " + std::to_string(*info_.maximum_packet_size) + " bytes";
    }
    int drops = inbox_.lost_count() - drops_before;
    result.data["connection_drops"] = drops;
    if (drops > 0) {
      result.detail +=
          " (the broker closed the connection " + std::to_string(drops) + " times for larger ones)";
    }
    return result;
  }

  CheckResult protocol(int version) {
    auto attempt = mqtt::try_protocol(connection_.settings(), version);
    if (!attempt.accepted) return fail(attempt.error);
    CheckResult result = pass("accepted in " + ms_text(attempt.connect_ms));
    result.data["connect_ms"] = round3(attempt.connect_ms);
    return result;
  }

  CheckResult sys() {
    std::string version_topic = "$SYS/broker/version";
    std::string uptime_topic = "$SYS/broker/uptime";
    try {
      connection_.subscribe({{version_topic, 0}, {uptime_topic, 0}});
    } catch (const Error& e) {
      if (e.code() != ExitCode::auth) throw;
      return skip("$SYS is not readable: " + std::string(e.what()));
    }
    auto topic_is = [](const std::string& t) {
      return [t](const ReceivedMessage& m) { return m.topic == t; };
    };
    // Brokers that publish $SYS retain it: it arrives at once or not at all.
    auto limit = std::min(wait_, std::chrono::duration<double>(2.0));
    auto version = await(topic_is(version_topic), limit);
    auto uptime = await(topic_is(uptime_topic), version ? limit : limit / 4);
    if (!version && !uptime) return skip("nothing readable under $SYS/broker");
    CheckResult result = pass("");
    result.data["version"] = version ? json(version->payload) : json(nullptr);
    result.data["uptime"] = uptime ? json(uptime->payload) : json(nullptr);
    result.detail = (version ? version->payload : "version unknown") +
                    (uptime ? ", up " + uptime->payload : "");
    return result;
  }

  CheckResult latency() {
    std::string topic = base_ + "/latency";
    subscribe(topic, 1);
    json series = json::object();
    std::string summary;
    for (int qos : {0, 1}) {
      if (qos > info_.effective_maximum_qos()) continue;
      std::vector<double> samples;
      for (int i = 0; i < options_.count; ++i) {
        std::string payload = "l" + std::to_string(qos) + "-" + std::to_string(i);
        auto started = Clock::now();
        connection_.publish(topic, payload, qos, false);
        if (!await(on(topic, payload), wait_)) {
          return fail("QoS " + std::to_string(qos) + " message " + std::to_string(i + 1) + " of " +
                      std::to_string(options_.count) + " did not come back");
        }
        samples.push_back(
            std::chrono::duration<double, std::milli>(Clock::now() - started).count());
      }
      std::sort(samples.begin(), samples.end());
      series["qos" + std::to_string(qos)] = {{"count", samples.size()},
                                             {"p50_ms", round3(percentile(samples, 50))},
                                             {"p90_ms", round3(percentile(samples, 90))},
                                             {"p99_ms", round3(percentile(samples, 99))},
                                             {"max_ms", round3(samples.back())}};
      summary += (summary.empty() ? "" : "; ") + std::string("QoS ") + std::to_string(qos) +
                 " p50 " + ms_text(percentile(samples, 50)) + " p99 " +
                 ms_text(percentile(samples, 99));
    }
    CheckResult result = pass(summary);
    result.data = series;
    return result;
  }

  mqtt::Connection& connection_;
  Inbox& inbox_;
  const Options& options_;
  std::string base_;
  mqtt::BrokerInfo info_;
  std::chrono::duration<double> wait_;
  std::chrono::duration<double> grace_;  // how long a lost link may take to come back
  int lost_seen_;                        // link losses already blamed on a check
  std::optional<std::string> gone_;      // the check during which the link went for good
  int trials_ = 0;
};

std::string auth_text(const mqtt::ConnectionSettings& s) {
  std::string text;
  if (!s.token_provider.empty()) {
    text = "token (provider " + s.token_provider + ")";
  } else if (s.credentials) {
    text = "username " + s.credentials->current().username;
  }
  // TLS-PSK authenticates the client too: the identity the broker knows the key by.
  if (!s.tls.psk.empty())
    return "TLS-PSK identity " + s.tls.psk_identity + (text.empty() ? "" : ", " + text);
  return text.empty() ? "anonymous" : text;
}

std::string protocol_text(int protocol) {
  return protocol == 311 ? "MQTT 3.1.1" : protocol == 31 ? "MQTT 3.1" : "MQTT 5";
}

template <typename T>
std::string declared(const std::optional<T>& value, const std::string& fallback) {
  if (!value) return fallback + " (not declared)";
  if constexpr (std::is_same_v<T, bool>) {
    return *value ? "yes" : "no";
  } else if constexpr (std::is_same_v<T, std::string>) {
    return *value;
  } else {
    return std::to_string(*value);
  }
}

std::string row(const std::string& label, const std::string& value) {
  char text[64];
  std::snprintf(text, sizeof(text), "  %-34s ", label.c_str());
  return text + value + "\n";
}

std::string connack_text(const mqtt::BrokerInfo& i) {
  std::string out = "Broker declares (CONNACK)\n";
  if (i.protocol != 5)
    return out + "  nothing: " + protocol_text(i.protocol) + " has no properties\n";
  out += row("receive maximum", declared(i.receive_maximum, "65535"));
  out += row("maximum QoS", declared(i.maximum_qos, "2"));
  out += row("retain available", declared(i.retain_available, "yes"));
  out += row("maximum packet size", declared(i.maximum_packet_size, "no limit"));
  out += row("topic alias maximum", declared(i.topic_alias_maximum, "0"));
  out += row("wildcard subscriptions", declared(i.wildcard_subscription_available, "yes"));
  out += row("subscription identifiers", declared(i.subscription_identifiers_available, "yes"));
  out += row("shared subscriptions", declared(i.shared_subscription_available, "yes"));
  out += row("server keepalive", declared(i.server_keep_alive, "ours"));
  out += row("session expiry", declared(i.session_expiry_interval, "ours"));
  if (i.assigned_client_identifier) out += row("assigned client id", *i.assigned_client_identifier);
  if (i.reason_string) out += row("reason string", *i.reason_string);
  if (i.server_reference) out += row("server reference", *i.server_reference);
  if (i.response_information) out += row("response information", *i.response_information);
  for (const auto& [key, value] : i.user_properties) out += row("user property " + key, value);
  return out;
}

}  // namespace

const std::vector<std::string>& check_names() {
  static const std::vector<std::string> names = {
      "certificate", "qos0",  "qos1",    "qos2",   "retain", "wildcards", "shared",
      "payload",     "mqtt5", "mqtt311", "mqtt31", "sys",    "latency"};
  return names;
}

int run(const Invocation& invocation, const Options& options) {
  const auto& globals = invocation.globals;
  bool as_json = invocation.output == "json";
  bool color = globals.color_stdout();
  for (const auto& name : options.checks) {
    if (std::find(check_names().begin(), check_names().end(), name) == check_names().end()) {
      throw Error(ExitCode::usage, "--check " + name + ": unknown check");
    }
  }
  if (options.count < 1) throw Error(ExitCode::usage, "--count must be at least 1");
  auto target = target::resolve(globals, "probe");
  auto settings = target.connection;
  settings.reconnect_interval = 0.2;  // a check that makes the broker drop us goes on at once
  std::string address = settings.host + ":" + std::to_string(settings.port);

  json report = {
      {"address", address},
      {"broker", settings.broker_name.empty() ? json(nullptr) : json(settings.broker_name)}};
  interrupt::install();
  Inbox inbox;
  mqtt::Handlers handlers;
  handlers.on_message = [&](ReceivedMessage& m) { inbox.push(m); };
  handlers.on_connect = [&](bool, bool) { inbox.connected(); };
  handlers.on_connection_lost = [&](const std::string& reason) { inbox.lost(reason); };
  mqtt::Connection connection(settings, handlers);
  try {
    connection.connect();
  } catch (const Error& e) {
    if (as_json && e.code() != ExitCode::interrupted) {
      report["connection"] = {{"ok", false}, {"error", e.what()}};
      util::write_result(util::to_json_line(report) + "\n");
    }
    throw;
  }
  auto info = connection.broker_info();
  double connect_ms = static_cast<double>(connection.connect_latency().count()) / 1000.0;
  auto now = std::chrono::system_clock::now();
  json connection_json = {{"ok", true},
                          {"protocol", info.protocol},
                          {"connect_ms", round3(connect_ms)},
                          {"client_id", settings.client_id},
                          {"auth", auth_text(settings)},
                          {"tls", info.tls ? mqtt::tls_json(*info.tls, now) : json(nullptr)}};
  report["connection"] = connection_json;
  report["broker_info"] = mqtt::broker_info_json(info);

  std::string base = settings.prefixed(options.topic + "/" + random_id());
  report["test_topic"] = base;
  // A lost link may take --connect-timeout to come back; after that the checks needing it are
  // not run (and a publish waiting for it gives up).
  std::chrono::duration<double> grace(settings.connect_timeout);
  Prober prober(connection, inbox, options, base, grace);
  std::vector<std::string> wanted = options.checks.empty() ? check_names() : options.checks;
  json checks = json::object();
  std::vector<std::string> failed, warned;
  int not_run = 0;
  std::string checks_text = "Checks (under " + base + ")\n";
  std::optional<LinkWatch> watch;
  watch.emplace(connection, inbox, grace);
  for (const auto& name : check_names()) {
    if (std::find(wanted.begin(), wanted.end(), name) == wanted.end()) continue;
    auto result = prober.run(name);
    json entry = {{"status", result.status}, {"detail", result.detail}};
    for (auto& [key, value] : result.data.items()) entry[key] = value;
    checks[name] = entry;
    if (result.status == "fail") failed.push_back(name);
    if (result.status == "warn") warned.push_back(name);
    if (result.not_run) ++not_run;
    auto status_color = result.status == "pass"   ? util::Color::green
                        : result.status == "fail" ? util::Color::red
                        : result.status == "warn" ? util::Color::yellow
                                                  : util::Color::gray;
    char label[32];
    std::snprintf(label, sizeof(label), "%-4s", result.status.c_str());
    char name_text[32];
    std::snprintf(name_text, sizeof(name_text), "%-12s", name.c_str());
    checks_text +=
        "  " + util::paint(label, status_color, color) + "  " + name_text + result.detail + "\n";
  }
  watch.reset();  // (before disconnect(): it may have disconnected already)
  connection.disconnect();
  report["checks"] = checks;
  report["failed"] = failed;
  report["ok"] = failed.empty();

  if (as_json) {
    util::write_result(util::to_json_line(report) + "\n");
  } else {
    std::string text = "dtbus probe " + settings.describe() + "\n";
    text += "Connection\n";
    text += row("protocol", protocol_text(info.protocol));
    text += row("connect time", ms_text(connect_ms));
    text += row("client id", settings.client_id);
    text += row("auth", auth_text(settings));
    if (info.tls) {
      const auto& tls = *info.tls;
      text +=
          row("TLS", tls.protocol + ", " + tls.cipher + (tls.verified ? "" : " (not verified)"));
      if (!tls.subject.empty()) text += row("certificate subject", tls.subject);
      if (!tls.alt_names.empty()) {
        std::string names;
        for (const auto& n : tls.alt_names) names += (names.empty() ? "" : ", ") + n;
        text += row("certificate alt names", names);
      }
      if (!tls.issuer.empty()) text += row("certificate issuer", tls.issuer);
      if (auto days = tls.days_left(now)) {
        text += row("certificate expires", util::rfc3339_ms(*tls.not_after).substr(0, 10) + " (" +
                                               std::to_string(*days) + " days left)");
      }
    } else {
      text += row("TLS", "no");
    }
    text += connack_text(info);
    text += checks_text;
    std::map<std::string, int> counts;
    for (const auto& [name, entry] : checks.items()) counts[entry["status"].get<std::string>()]++;
    text += "Result: " + std::to_string(counts["pass"]) + " passed, " +
            std::to_string(counts["warn"]) + " warned, " +
            std::to_string(counts["skip"] - not_run) + " skipped, " +
            (not_run ? std::to_string(not_run) + " not run, " : "") +
            std::to_string(counts["fail"]) + " failed";
    if (!failed.empty()) {
      std::string list;
      for (const auto& f : failed) list += (list.empty() ? "" : ", ") + f;
      text += ": " + util::paint(list, util::Color::red, color);
    }
    text += "\n";
    util::write_result(text);
  }
  for (const auto& name : warned) {
    spdlog::warn("{}: {}", name, checks[name]["detail"].get<std::string>());
  }
  if (!failed.empty()) {
    std::string list;
    for (const auto& f : failed) list += (list.empty() ? "" : ", ") + f;
    print_error("probe", std::to_string(failed.size()) + " check" +
                             (failed.size() == 1 ? "" : "s") + " failed: " + list);
    return static_cast<int>(ExitCode::runtime);
  }
  return 0;
}

}  // namespace dtbus::commands::probe
