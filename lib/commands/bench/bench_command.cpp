// SPDX-License-Identifier: Apache-2.0
#include "dtbus/commands/bench/bench_command.hpp"

#include <sys/utsname.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <exception>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include "dtbus/commands/bench/accounting.hpp"
#include "dtbus/core/error.hpp"
#include "dtbus/core/topic.hpp"
#include "dtbus/mqtt/connection.hpp"
#include "dtbus/target/target.hpp"
#include "dtbus/util/histogram.hpp"
#include "dtbus/util/interrupt.hpp"
#include "dtbus/util/json.hpp"
#include "dtbus/util/terminal.hpp"
#include "dtbus/util/time.hpp"

namespace dtbus::commands::bench {
namespace {

using Clock = std::chrono::steady_clock;
using Json = nlohmann::ordered_json;

// Bytes of unacknowledged payload all publishers may hold together (libmosquitto queues what
// the socket does not take yet): keeps memory flat whatever the rate and the broker do.
constexpr uint64_t kWindowBytes = 16ull << 20;
constexpr int kDefaultInflightQos0 = 1000;
constexpr int kDefaultInflightQos12 = 100;

uint64_t now_ns() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
          .count());
}

Clock::time_point from_ns(uint64_t ns) {
  return Clock::time_point(
      std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(ns)));
}

// Set by the main thread: publishers stop scheduling, waiters give up.
struct StopFlag {
  std::atomic<bool> stop{false};
};

// One publishing connection and its thread.
class Publisher {
 public:
  Publisher(uint32_t index, int qos, int window) : index_(index), qos_(qos), window_(window) {
    size_t slots = 1;
    while (slots < static_cast<size_t>(2 * window + 2)) slots <<= 1;
    sent_at_.resize(slots);
  }

  void attach(std::unique_ptr<mqtt::Connection> connection) { connection_ = std::move(connection); }
  mqtt::Connection& connection() { return *connection_; }
  uint32_t index() const { return index_; }
  // How far the slowest subscriber has come in this publisher's stream (max-rate and closed
  // loop keep at most the window in flight end to end, so that the generator does not fill the
  // broker's queues and measure them instead of the broker).
  void follow(std::function<uint64_t()> reached) { reached_ = std::move(reached); }

  // Network thread: QoS 0 written, QoS 1 PUBACK, QoS 2 PUBCOMP.
  void on_publish(int mid, int reason_code) {
    uint64_t now = now_ns();
    if (qos_ > 0) {
      std::lock_guard lock(mutex_);
      Slot& slot = sent_at_[static_cast<size_t>(mid) & (sent_at_.size() - 1)];
      if (slot.mid == mid) {
        ack_latency_.record(now > slot.sent_ns ? now - slot.sent_ns : 0);
        slot.mid = 0;
      }
    }
    if (reason_code >= 0x80) {
      rejected_.fetch_add(1, std::memory_order_relaxed);
    } else {
      acked_.fetch_add(1, std::memory_order_relaxed);
    }
    outstanding_.fetch_sub(1, std::memory_order_relaxed);
    if (waiting_.load(std::memory_order_relaxed)) {
      std::lock_guard lock(wait_mutex_);
      room_.notify_one();
    }
  }

  // Network thread, after a reconnect: QoS 0 messages queued when the link dropped are gone
  // (libmosquitto reports nothing for them), so they no longer take room in the window.
  void on_reconnect() {
    if (qos_ == 0) {
      outstanding_.store(0, std::memory_order_relaxed);
      std::lock_guard lock(wait_mutex_);
      room_.notify_one();
    }
  }

  struct Plan {
    std::string topic_pattern;
    bool topic_varies = false;
    std::string payload;  // header space + padding or template
    uint32_t run_id = 0;
    std::optional<uint64_t> count;
    std::optional<uint64_t> end_ns;     // stop scheduling at or after
    std::optional<double> interval_ns;  // open loop or rate cap
    bool open_loop = false;
    uint64_t start_ns = 0;
  };

  void start(const Plan& plan, StopFlag& stop) {
    thread_ = std::thread([this, &plan, &stop] {
      try {
        loop(plan, stop);
      } catch (...) {
        error_ = std::current_exception();
        stop.stop = true;
      }
      finished_ns_.store(now_ns());
      done_.store(true);
    });
  }
  void join() {
    if (thread_.joinable()) thread_.join();
  }
  bool done() const { return done_.load(); }
  std::exception_ptr error() const { return error_; }

  uint64_t sent() const { return sent_.load(std::memory_order_relaxed); }
  uint64_t acked() const { return acked_.load(std::memory_order_relaxed); }
  uint64_t rejected() const { return rejected_.load(std::memory_order_relaxed); }
  uint64_t finished_ns() const { return finished_ns_.load(); }
  const util::Histogram& ack_latency() const { return ack_latency_; }

 private:
  struct Slot {
    int mid = 0;
    uint64_t sent_ns = 0;
  };

  void wait_for_room(StopFlag& stop) {
    while (outstanding_.load(std::memory_order_relaxed) >= window_ && !stop.stop) {
      std::unique_lock lock(wait_mutex_);
      waiting_.store(true, std::memory_order_relaxed);
      room_.wait_for(lock, std::chrono::milliseconds(20), [&] {
        return outstanding_.load(std::memory_order_relaxed) < window_ || stop.stop;
      });
      waiting_.store(false, std::memory_order_relaxed);
    }
  }

  // Waits while `window` messages are sent and not yet seen by every subscriber. A stream whose
  // messages in flight were all lost (QoS 0 across a reconnect) moves nothing: after a pause
  // without progress one more message goes out, and the flow resumes.
  void wait_for_delivery(uint64_t sent, StopFlag& stop) {
    if (!reached_) return;
    uint64_t reached = reached_();
    if (sent < reached + static_cast<uint64_t>(window_)) return;
    // Full: wait until a quarter of the window is free, polling (a wake-up per received message
    // would cost the subscriber's thread more than this), then send that quarter in one go.
    uint64_t resume_below = static_cast<uint64_t>(window_ - window_ / 4);
    auto since = Clock::now();
    while (sent >= reached + resume_below && !stop.stop) {
      std::this_thread::sleep_for(std::chrono::microseconds(100));
      uint64_t now_reached = reached_();
      if (now_reached != reached) {
        reached = now_reached;
        since = Clock::now();
      } else if (Clock::now() - since > std::chrono::milliseconds(200)) {
        return;
      }
    }
  }

  void loop(const Plan& plan, StopFlag& stop) {
#ifdef __linux__
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);  // wake on schedule, not 50 us later
#endif
    std::string payload = plan.payload;
    std::string topic = expand_topic(plan.topic_pattern, index_, 0);
    PayloadHeader header;
    header.run_id = plan.run_id;
    header.publisher = index_;
    uint64_t previous_ns = 0;
    for (uint64_t k = 0;; ++k) {
      if (plan.count && k >= *plan.count) break;
      if (stop.stop) break;
      uint64_t scheduled = 0;
      if (plan.open_loop) {
        scheduled =
            plan.start_ns + static_cast<uint64_t>(static_cast<double>(k) * *plan.interval_ns);
        if (plan.end_ns && scheduled >= *plan.end_ns) break;
        if (now_ns() < scheduled) std::this_thread::sleep_until(from_ns(scheduled));
        wait_for_room(stop);
      } else {
        wait_for_room(stop);
        wait_for_delivery(k, stop);
        if (plan.interval_ns && k > 0) {
          uint64_t next = previous_ns + static_cast<uint64_t>(*plan.interval_ns);
          if (now_ns() < next) std::this_thread::sleep_until(from_ns(next));
        }
        scheduled = now_ns();
        if (plan.end_ns && scheduled >= *plan.end_ns) break;
      }
      if (stop.stop) break;
      previous_ns = scheduled;
      header.sequence = k;
      header.scheduled_ns = scheduled;
      header.write(payload.data());
      if (plan.topic_varies) topic = expand_topic(plan.topic_pattern, index_, k);
      outstanding_.fetch_add(1, std::memory_order_relaxed);
      try {
        if (qos_ > 0) {
          // Held across publish(): the PUBACK cannot be handled before its send time is stored.
          std::lock_guard lock(mutex_);
          uint64_t sent_ns = now_ns();
          int mid = connection_->publish(topic, payload, qos_, false);
          sent_at_[static_cast<size_t>(mid) & (sent_at_.size() - 1)] = {mid, sent_ns};
        } else {
          connection_->publish(topic, payload, qos_, false);
        }
      } catch (...) {
        outstanding_.fetch_sub(1, std::memory_order_relaxed);
        if (stop.stop) break;  // the connection closed because we stop
        throw;
      }
      sent_.store(k + 1, std::memory_order_relaxed);
    }
  }

  const uint32_t index_;
  const int qos_;
  const int64_t window_;
  std::unique_ptr<mqtt::Connection> connection_;
  std::function<uint64_t()> reached_;
  std::thread thread_;
  std::exception_ptr error_;
  std::atomic<bool> done_{false};
  std::atomic<uint64_t> finished_ns_{0};
  std::atomic<uint64_t> sent_{0};
  std::atomic<uint64_t> acked_{0};
  std::atomic<uint64_t> rejected_{0};
  std::atomic<int64_t> outstanding_{0};
  std::atomic<bool> waiting_{false};
  std::mutex wait_mutex_;
  std::condition_variable room_;
  std::mutex mutex_;  // sent_at_ and ack_latency_ (QoS > 0)
  std::vector<Slot> sent_at_;
  util::Histogram ack_latency_;
};

// One subscribing connection: accounts every message on its network thread.
class Subscriber {
 public:
  Subscriber(uint32_t run_id, size_t publishers) : run_id_(run_id), streams_(publishers) {}

  void attach(std::unique_ptr<mqtt::Connection> connection) { connection_ = std::move(connection); }
  mqtt::Connection& connection() { return *connection_; }

  void on_message(const ReceivedMessage& message) {
    uint64_t now = now_ns();
    auto header = PayloadHeader::read(message.payload);
    if (!header || header->run_id != run_id_ || header->publisher >= streams_.size()) {
      foreign_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    latency_.record(now > header->scheduled_ns ? now - header->scheduled_ns : 0);
    if (streams_[header->publisher].add(header->sequence) != SequenceTracker::Outcome::duplicate) {
      bytes_.store(bytes_.load(std::memory_order_relaxed) + message.payload.size(),
                   std::memory_order_relaxed);
    }
    last_ns_.store(now, std::memory_order_relaxed);
  }

  const SequenceTracker& stream(size_t publisher) const { return streams_[publisher]; }
  const util::Histogram& latency() const { return latency_; }
  uint64_t foreign() const { return foreign_.load(std::memory_order_relaxed); }
  uint64_t bytes() const { return bytes_.load(std::memory_order_relaxed); }
  uint64_t last_ns() const { return last_ns_.load(std::memory_order_relaxed); }
  uint64_t unique() const {
    uint64_t total = 0;
    for (const auto& s : streams_) total += s.unique();
    return total;
  }
  uint64_t received() const {
    uint64_t total = 0;
    for (const auto& s : streams_) total += s.received();
    return total;
  }

 private:
  const uint32_t run_id_;
  std::unique_ptr<mqtt::Connection> connection_;
  std::vector<SequenceTracker> streams_;
  util::Histogram latency_;
  std::atomic<uint64_t> foreign_{0};
  std::atomic<uint64_t> bytes_{0};
  std::atomic<uint64_t> last_ns_{0};
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ExitCode::usage, "--payload-file " + path + ": cannot read it");
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

Json load_baseline(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ExitCode::usage, "--compare " + path + ": cannot read it");
  std::ostringstream content;
  content << in.rdbuf();
  Json doc = util::parse_json(content.str());
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("throughput") ||
      !doc.contains("latency_ms")) {
    throw Error(ExitCode::usage,
                "--compare " + path + ": not the JSON result of dtbus bench -o json");
  }
  return doc;
}

double ms(uint64_t ns) { return std::round(static_cast<double>(ns) / 1e3) / 1e3; }

Json latency_json(const util::Histogram& h) {
  if (h.count() == 0) return nullptr;
  Json j;
  j["count"] = h.count();
  j["min"] = ms(h.min());
  j["mean"] = std::round(h.mean() / 1e3) / 1e3;
  j["p50"] = ms(h.percentile(50));
  j["p90"] = ms(h.percentile(90));
  j["p99"] = ms(h.percentile(99));
  j["p99_9"] = ms(h.percentile(99.9));
  j["max"] = ms(h.max());
  return j;
}

Json machine_json() {
  Json j;
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  j["nproc"] = cpus > 0 ? cpus : 1;
  struct utsname name {};
  if (uname(&name) == 0) {
    j["os"] = name.sysname;
    j["kernel"] = name.release;
    j["arch"] = name.machine;
  } else {
    j["os"] = nullptr;
    j["kernel"] = nullptr;
    j["arch"] = nullptr;
  }
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  j["cpu"] = nullptr;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) == 0) {
      auto colon = line.find(':');
      if (colon != std::string::npos) {
        std::string model = line.substr(colon + 1);
        model.erase(0, model.find_first_not_of(' '));
        j["cpu"] = model;
      }
      break;
    }
  }
  return j;
}

// Rounded to `decimals` places (by dividing: the result prints short in JSON).
double rounded(double value, int decimals = 1) {
  double scale = std::pow(10.0, decimals);
  return std::round(value * scale) / scale;
}

std::string fixed(double value, int decimals) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  return buffer;
}

std::string latency_line(const Json& j) {
  if (j.is_null()) return "-";
  auto f = [&](const char* key) { return fixed(j[key].get<double>(), 3); };
  return "min " + f("min") + "  p50 " + f("p50") + "  p90 " + f("p90") + "  p99 " + f("p99") +
         "  p99.9 " + f("p99_9") + "  max " + f("max") + " ms";
}

std::string text_report(const Json& r) {
  const Json& p = r["parameters"];
  const Json& m = r["messages"];
  const Json& t = r["throughput"];
  std::string out;
  auto line = [&](const std::string& label, const std::string& value) {
    std::string padded = label;
    padded.resize(std::max<size_t>(label.size() + 1, 25), ' ');
    out += padded + value + "\n";
  };
  std::string mode = p["mode"].get<std::string>();
  std::string rate = p["rate_per_publisher"].is_null()
                         ? std::string("unlimited")
                         : fixed(p["rate_per_publisher"].get<double>(), 1) + " msg/s per publisher";
  line("broker", r["broker"]["address"].get<std::string>() + " (MQTT " +
                     std::to_string(p["protocol"].get<int>()) + ")");
  line("clients", std::to_string(p["publishers"].get<int>()) + " publisher(s), " +
                      std::to_string(p["subscribers"].get<int>()) + " subscriber(s), QoS " +
                      std::to_string(p["qos"].get<int>()) + ", " +
                      std::to_string(p["payload_bytes"].get<uint64_t>()) + " B payload");
  line("load", mode + ", " + rate + ", inflight " + std::to_string(p["inflight"].get<int>()));
  line("topic",
       p["topic"].get<std::string>() + "  (subscribed " + p["filter"].get<std::string>() + ")");
  line("elapsed", fixed(r["elapsed_s"].get<double>(), 3) + " s" +
                      (r["interrupted"].get<bool>() ? "  (interrupted)" : ""));
  line("published", std::to_string(m["published"].get<uint64_t>()) + "  (" +
                        fixed(t["publish_msgs_per_s"].get<double>(), 1) + " msg/s)");
  if (p["qos"].get<int>() > 0) {
    line("acknowledged", std::to_string(m["acked"].get<uint64_t>()) + "  rejected " +
                             std::to_string(m["rejected"].get<uint64_t>()) + "  unacknowledged " +
                             std::to_string(m["unacked"].get<uint64_t>()));
  }
  line("received", std::to_string(m["received"].get<uint64_t>()) + " of " +
                       std::to_string(m["expected"].get<uint64_t>()) + " expected  (" +
                       fixed(t["receive_msgs_per_s"].get<double>(), 1) + " msg/s, " +
                       fixed(t["receive_bytes_per_s"].get<double>() / 1e6, 3) + " MB/s)");
  line("lost", std::to_string(m["lost"].get<uint64_t>()) + "  duplicated " +
                   std::to_string(m["duplicated"].get<uint64_t>()) + "  out of order " +
                   std::to_string(m["out_of_order"].get<uint64_t>()) + "  foreign " +
                   std::to_string(m["foreign"].get<uint64_t>()));
  line("reconnects", std::to_string(r["reconnects"].get<int>()));
  line(mode == "open-loop" ? "latency (from schedule)" : "latency end to end",
       latency_line(r["latency_ms"]["end_to_end"]));
  if (p["qos"].get<int>() > 0) {
    line("latency publish to ack", latency_line(r["latency_ms"]["publish_to_ack"]));
  }
  return out;
}

std::string comparison_text(const Json& c) {
  std::string out = "compared with " + c["baseline"].get<std::string>() + " (max regression " +
                    fixed(c["max_regression_percent"].get<double>(), 1) + " %)\n";
  for (const auto& f : c["figures"]) {
    std::string name = f["name"].get<std::string>();
    name.resize(std::max<size_t>(name.size(), 18), ' ');
    std::string unit = f["unit"].get<std::string>();
    auto value = [&](const Json& v) {
      double d = v.get<double>();
      return unit == "ms" ? fixed(d, 3) : fixed(d, d == std::floor(d) ? 0 : 1);
    };
    std::string change = "n/a";
    if (!f["change_percent"].is_null()) {
      change = fixed(f["change_percent"].get<double>(), 1);
      if (change[0] != '-') change = "+" + change;
      change += " %";
    }
    out += "  " + name + value(f["baseline"]) + " -> " + value(f["current"]) +
           (unit.empty() ? "" : " " + unit) + "  " + change +
           (f["regression"].get<bool>() ? "  REGRESSION" : "") + "\n";
  }
  return out;
}

class ProgressLine {
 public:
  explicit ProgressLine(bool enabled) : enabled_(enabled) {}
  ~ProgressLine() { clear(); }
  bool enabled() const { return enabled_; }
  void draw(const std::string& text) {
    if (!enabled_) return;
    std::fprintf(stderr, "\r\033[K%s", text.c_str());
    std::fflush(stderr);
    drawn_ = true;
  }
  void clear() {
    if (!drawn_) return;
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
    drawn_ = false;
  }

 private:
  bool enabled_;
  bool drawn_ = false;
};

void validate(const Options& o) {
  auto usage = [](const std::string& what) { throw Error(ExitCode::usage, what); };
  if (o.publishers < 0 || o.subscribers < 0) usage("--publishers and --subscribers must be >= 0");
  if (o.publishers == 0) usage("--publishers must be at least 1");
  if (o.qos < 0 || o.qos > 2) usage("-q/--qos must be 0, 1 or 2");
  if (o.size && !o.payload_file.empty()) usage("--size and --payload-file exclude each other");
  if (o.size && *o.size < PayloadHeader::kSize) {
    usage("--size must be at least " + std::to_string(PayloadHeader::kSize) +
          " (the bench header: publisher, sequence, send time)");
  }
  if (o.size && *o.size > 256ull << 20) usage("--size must be at most 256M (MQTT's limit)");
  if (o.count && *o.count == 0) usage("--count must be at least 1");
  if (o.duration_s && !(*o.duration_s > 0)) usage("--duration must be positive");
  if (o.rate && o.rate_total) usage("--rate and --rate-total exclude each other");
  if ((o.rate && !(*o.rate > 0)) || (o.rate_total && !(*o.rate_total > 0))) {
    usage("--rate and --rate-total must be positive");
  }
  if (o.inflight && *o.inflight < 1) usage("--inflight must be at least 1");
  if (o.drain_s < 0) usage("--drain must be >= 0");
  if (!parse_percent(o.max_regression)) {
    usage("--max-regression '" + o.max_regression + "': not a percentage (e.g. 10%)");
  }
}

}  // namespace

int run(const Invocation& invocation, const Options& options) {
  validate(options);
  double max_regression = *parse_percent(options.max_regression);
  std::optional<Json> baseline;
  if (!options.compare_file.empty()) baseline = load_baseline(options.compare_file);

  target::Target target = target::resolve(invocation.globals, "bench");
  const mqtt::ConnectionSettings& base = target.connection;

  std::random_device random;
  uint32_t run_id = static_cast<uint32_t>(random());
  char run_hex[16];
  std::snprintf(run_hex, sizeof run_hex, "%08x", run_id);
  std::string pattern =
      options.topic.empty() ? "dtbus/bench/" + std::string(run_hex) + "/%i" : options.topic;
  pattern = base.prefixed(pattern);
  std::string filter = options.filter.empty() ? filter_for(pattern) : base.prefixed(options.filter);
  if (auto problem = topic::publish_topic_problem(expand_topic(pattern, 0, 0))) {
    throw Error(ExitCode::usage, "--topic '" + pattern + "': " + *problem);
  }
  if (auto problem = topic::filter_problem(filter)) {
    throw Error(ExitCode::usage, "--filter '" + filter + "': " + *problem);
  }

  std::string payload;
  if (!options.payload_file.empty()) {
    payload = std::string(PayloadHeader::kSize, '\0') + read_file(options.payload_file);
  } else {
    payload.assign(options.size.value_or(kDefaultSize), 'x');
  }

  const int n_pub = options.publishers;
  const int n_sub = options.subscribers;
  int window = options.closed_loop
                   ? 1
                   : options.inflight.value_or(options.qos == 0 ? kDefaultInflightQos0
                                                                : kDefaultInflightQos12);
  // Memory bound: all windows together hold at most kWindowBytes of payload.
  uint64_t per_publisher_bytes = kWindowBytes / static_cast<uint64_t>(n_pub);
  window = static_cast<int>(
      std::clamp<uint64_t>(per_publisher_bytes / payload.size(), 1, static_cast<uint64_t>(window)));

  std::optional<double> rate = options.rate;
  if (options.rate_total) rate = *options.rate_total / n_pub;
  bool open_loop = rate.has_value() && !options.closed_loop;
  std::optional<double> duration = options.duration_s;
  if (!duration && !options.count) duration = kDefaultDuration;
  std::string mode = open_loop ? "open-loop" : options.closed_loop ? "closed-loop" : "max-rate";

  interrupt::install();

  std::vector<std::unique_ptr<Subscriber>> subscribers;
  std::vector<std::unique_ptr<Publisher>> publishers;
  auto connection_settings = [&](const std::string& role, int index) {
    mqtt::ConnectionSettings s = base;
    s.client_id = base.client_id + "-" + role + std::to_string(index);
    return s;
  };

  std::vector<double> connect_ms;
  std::optional<mqtt::BrokerInfo> declared;  // the first publisher's CONNACK
  for (int j = 0; j < n_sub; ++j) {
    auto sub = std::make_unique<Subscriber>(run_id, static_cast<size_t>(n_pub));
    Subscriber* raw = sub.get();
    mqtt::Handlers handlers;
    handlers.on_message = [raw](const ReceivedMessage& m) { raw->on_message(m); };
    sub->attach(std::make_unique<mqtt::Connection>(connection_settings("sub", j), handlers));
    sub->connection().connect();
    connect_ms.push_back(static_cast<double>(sub->connection().connect_latency().count()) / 1e3);
    sub->connection().subscribe({{filter, options.qos}});
    subscribers.push_back(std::move(sub));
  }
  for (int i = 0; i < n_pub; ++i) {
    auto pub = std::make_unique<Publisher>(static_cast<uint32_t>(i), options.qos, window);
    Publisher* raw = pub.get();
    mqtt::Handlers handlers;
    handlers.on_publish = [raw](int mid, int reason) { raw->on_publish(mid, reason); };
    handlers.on_connect = [raw](bool, bool reconnect) {
      if (reconnect) raw->on_reconnect();
    };
    pub->attach(std::make_unique<mqtt::Connection>(connection_settings("pub", i), handlers));
    if (!open_loop && n_sub > 0) {
      pub->follow([&subscribers, i] {
        uint64_t slowest = UINT64_MAX;
        for (const auto& s : subscribers) {
          slowest = std::min(slowest, s->stream(static_cast<size_t>(i)).reached());
        }
        return slowest;
      });
    }
    pub->connection().connect();
    connect_ms.push_back(static_cast<double>(pub->connection().connect_latency().count()) / 1e3);
    if (!declared) declared = pub->connection().broker_info();
    publishers.push_back(std::move(pub));
  }

  // Every publisher's plan: a common start, the publishers' slots spread over one interval.
  uint64_t start_ns = now_ns() + 20'000'000;  // 20 ms for every thread to be ready
  std::vector<Publisher::Plan> plans(static_cast<size_t>(n_pub));
  for (int i = 0; i < n_pub; ++i) {
    auto& plan = plans[static_cast<size_t>(i)];
    plan.topic_pattern = pattern;
    plan.topic_varies = topic_has_sequence(pattern);
    plan.payload = payload;
    plan.run_id = run_id;
    plan.count = options.count;
    plan.open_loop = open_loop;
    if (rate) plan.interval_ns = 1e9 / *rate;
    plan.start_ns =
        start_ns + (plan.interval_ns ? static_cast<uint64_t>(*plan.interval_ns * i / n_pub) : 0);
    if (duration) plan.end_ns = start_ns + static_cast<uint64_t>(*duration * 1e9);
  }
  spdlog::info("publishing: {} publisher(s), {} subscriber(s), QoS {}, {} B, {} on {}", n_pub,
               n_sub, options.qos, payload.size(), mode, pattern);
  StopFlag stop;
  for (int i = 0; i < n_pub; ++i) {
    publishers[static_cast<size_t>(i)]->start(plans[static_cast<size_t>(i)], stop);
  }

  auto total_sent = [&] {
    uint64_t n = 0;
    for (const auto& p : publishers) n += p->sent();
    return n;
  };
  auto total_acked = [&] {
    uint64_t n = 0;
    for (const auto& p : publishers) n += p->acked() + p->rejected();
    return n;
  };
  auto total_unique = [&] {
    uint64_t n = 0;
    for (const auto& s : subscribers) n += s->unique();
    return n;
  };
  auto reconnects = [&] {
    int n = 0;
    for (const auto& p : publishers) n += p->connection().reconnect_count();
    for (const auto& s : subscribers) n += s->connection().reconnect_count();
    return n;
  };
  auto all_done = [&] {
    return std::all_of(publishers.begin(), publishers.end(),
                       [](const auto& p) { return p->done(); });
  };

  ProgressLine progress(options.progress && util::is_tty(stderr));
  auto draw_progress = [&](const char* phase) {
    if (!progress.enabled()) return;
    util::Histogram latency;
    uint64_t lost_now = 0;
    for (const auto& s : subscribers) latency.merge(s->latency());
    double elapsed = static_cast<double>(now_ns() - start_ns) / 1e9;
    uint64_t received = total_unique();
    (void)lost_now;
    progress.draw(std::string(phase) + " " + fixed(elapsed, 1) + " s  sent " +
                  std::to_string(total_sent()) + "  received " + std::to_string(received) + "  " +
                  fixed(elapsed > 0 ? static_cast<double>(received) / elapsed : 0, 0) +
                  " msg/s  p99 " + fixed(ms(latency.percentile(99)), 3) + " ms  reconnects " +
                  std::to_string(reconnects()));
  };

  // Publishing phase.
  auto next_draw = Clock::now();
  while (!all_done()) {
    if (interrupt::interrupted()) stop.stop = true;
    if (Clock::now() >= next_draw) {
      draw_progress("bench");
      next_draw = Clock::now() + std::chrono::milliseconds(250);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (auto& p : publishers) p->join();
  uint64_t publish_end_ns = 0;
  for (const auto& p : publishers) publish_end_ns = std::max(publish_end_ns, p->finished_ns());
  for (const auto& p : publishers) {
    if (p->error()) std::rethrow_exception(p->error());
  }

  // Drain: until every message is in and acknowledged, or nothing moved for drain_s.
  const uint64_t sent = total_sent();
  const uint64_t expected = sent * static_cast<uint64_t>(n_sub);
  uint64_t last_progress_ns = now_ns();
  uint64_t last_seen = total_unique() + total_acked();
  // Interrupted: the acks and messages on their way still count, for a second at most.
  const uint64_t drain_start_ns = now_ns();
  while (!interrupt::interrupted() || now_ns() - drain_start_ns < 1'000'000'000) {
    uint64_t seen = total_unique() + total_acked();
    bool acks_in = options.qos == 0 || total_acked() >= sent;
    if (total_unique() >= expected && acks_in) break;
    if (seen != last_seen) {
      last_seen = seen;
      last_progress_ns = now_ns();
    } else if (static_cast<double>(now_ns() - last_progress_ns) / 1e9 >= options.drain_s) {
      break;
    }
    if (Clock::now() >= next_draw) {
      draw_progress("drain");
      next_draw = Clock::now() + std::chrono::milliseconds(250);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  progress.clear();
  bool interrupted = interrupt::interrupted();
  int reconnect_total = reconnects();

  // Figures, from quiet counters (publishers joined; subscribers' threads stop with their
  // connections below, after which nothing changes).
  for (auto& p : publishers) p->connection().disconnect();
  for (auto& s : subscribers) s->connection().disconnect();

  util::Histogram e2e;
  util::Histogram ack;
  uint64_t received = 0, unique = 0, duplicated = 0, out_of_order = 0, lost = 0, foreign = 0,
           bytes = 0, last_receive_ns = 0;
  for (const auto& s : subscribers) {
    e2e.merge(s->latency());
    received += s->received();
    unique += s->unique();
    foreign += s->foreign();
    bytes += s->bytes();
    last_receive_ns = std::max(last_receive_ns, s->last_ns());
  }
  uint64_t acked = 0, rejected = 0;
  Json per_publisher = Json::array();
  for (size_t i = 0; i < publishers.size(); ++i) {
    const Publisher& p = *publishers[i];
    ack.merge(p.ack_latency());
    acked += p.acked();
    rejected += p.rejected();
    uint64_t p_received = 0, p_dup = 0, p_ooo = 0, p_lost = 0;
    for (const auto& s : subscribers) {
      const SequenceTracker& t = s->stream(i);
      p_received += t.unique();
      p_dup += t.duplicated();
      p_ooo += t.out_of_order();
      p_lost += t.lost(p.sent());
    }
    duplicated += p_dup;
    out_of_order += p_ooo;
    lost += p_lost;
    Json row;
    row["publisher"] = i;
    row["published"] = p.sent();
    row["acked"] = options.qos > 0 ? Json(p.acked()) : Json(nullptr);
    row["received"] = p_received;
    row["lost"] = p_lost;
    row["duplicated"] = p_dup;
    row["out_of_order"] = p_ooo;
    per_publisher.push_back(row);
  }
  uint64_t unacked = options.qos > 0 && sent > acked + rejected ? sent - acked - rejected : 0;
  double publish_s = std::max(1e-9, static_cast<double>(publish_end_ns - start_ns) / 1e9);
  double receive_s = std::max(
      1e-9,
      static_cast<double>((last_receive_ns > start_ns ? last_receive_ns : now_ns()) - start_ns) /
          1e9);

  Json r;
  r["dtbus_bench"] = 1;
  Json& p = r["parameters"];
  p["publishers"] = n_pub;
  p["subscribers"] = n_sub;
  p["qos"] = options.qos;
  p["payload_bytes"] = payload.size();
  p["payload_file"] = options.payload_file.empty() ? Json(nullptr) : Json(options.payload_file);
  p["count"] = options.count ? Json(*options.count) : Json(nullptr);
  p["duration_s"] = duration ? Json(*duration) : Json(nullptr);
  p["rate_per_publisher"] = rate ? Json(*rate) : Json(nullptr);
  p["rate_total"] = rate ? Json(*rate * n_pub) : Json(nullptr);
  p["mode"] = mode;
  p["inflight"] = window;
  p["topic"] = pattern;
  p["filter"] = filter;
  p["protocol"] = base.protocol;
  p["tls"] = base.tls.enabled;
  r["machine"] = machine_json();
  Json& b = r["broker"];
  b["address"] = base.describe();
  // What the broker declared in its CONNACK (dtbus-probe(1) documents the keys); null with no
  // publisher.
  b["connack"] = declared ? mqtt::broker_info_json(*declared) : Json(nullptr);
  b["connect_ms_max"] = connect_ms.empty()
                            ? 0.0
                            : rounded(*std::max_element(connect_ms.begin(), connect_ms.end()), 3);
  r["started_at"] = util::now_rfc3339_ms();
  r["elapsed_s"] = rounded(static_cast<double>(now_ns() - start_ns) / 1e9, 3);
  r["interrupted"] = interrupted;
  Json& m = r["messages"];
  m["published"] = sent;
  m["acked"] = options.qos > 0 ? acked : sent;
  m["rejected"] = rejected;
  m["unacked"] = unacked;
  m["expected"] = expected;
  m["received"] = unique;
  m["received_with_duplicates"] = received;
  m["lost"] = lost;
  m["duplicated"] = duplicated;
  m["out_of_order"] = out_of_order;
  m["foreign"] = foreign;
  Json& t = r["throughput"];
  t["publish_msgs_per_s"] = rounded(static_cast<double>(sent) / publish_s);
  t["receive_msgs_per_s"] = rounded(static_cast<double>(unique) / receive_s);
  t["receive_bytes_per_s"] = rounded(static_cast<double>(bytes) / receive_s, 0);
  r["latency_ms"]["end_to_end"] = latency_json(e2e);
  r["latency_ms"]["publish_to_ack"] = latency_json(ack);
  r["reconnects"] = reconnect_total;
  r["per_publisher"] = per_publisher;

  std::vector<FigureChange> changes;
  if (baseline) {
    changes = compare_results(*baseline, r, max_regression);
    Json c;
    c["baseline"] = options.compare_file;
    c["max_regression_percent"] = max_regression;
    c["figures"] = Json::array();
    int regressions = 0;
    for (const auto& change : changes) {
      Json f;
      f["name"] = change.name;
      f["unit"] = change.unit;
      f["baseline"] = *change.baseline;
      f["current"] = *change.current;
      f["change_percent"] =
          change.change_percent ? Json(rounded(*change.change_percent)) : Json(nullptr);
      f["regression"] = change.regression;
      regressions += change.regression ? 1 : 0;
      c["figures"].push_back(f);
    }
    c["regressions"] = regressions;
    r["comparison"] = c;
  }

  if (invocation.output == "json") {
    util::write_result(util::to_json_line(r));
  } else {
    std::string text = text_report(r);
    if (baseline) text += comparison_text(r["comparison"]);
    util::write_result(text);
  }

  if (interrupted) return static_cast<int>(ExitCode::interrupted);
  if (unacked > 0 || rejected > 0) {
    print_error("bench", std::to_string(unacked) + " message(s) not acknowledged and " +
                             std::to_string(rejected) + " rejected by the broker");
    return static_cast<int>(ExitCode::incomplete);
  }
  if (options.qos > 0 && lost > 0) {
    print_error("bench", std::to_string(lost) + " acknowledged QoS " + std::to_string(options.qos) +
                             " message(s) never reached a subscriber");
    return static_cast<int>(ExitCode::runtime);
  }
  if (baseline && r["comparison"]["regressions"].get<int>() > 0) {
    print_error("bench", std::to_string(r["comparison"]["regressions"].get<int>()) +
                             " figure(s) worse than " + options.compare_file + " by more than " +
                             fixed(max_regression, 1) + " %");
    return static_cast<int>(ExitCode::runtime);
  }
  return 0;
}

}  // namespace dtbus::commands::bench
