// SPDX-License-Identifier: Apache-2.0
#include "dtbus/mqtt/connection.hpp"

#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <utility>

#include <spdlog/spdlog.h>

#include "dtbus/core/error.hpp"
#include "dtbus/core/topic.hpp"
#include "dtbus/mqtt/broker_info.hpp"
#include "dtbus/mqtt/in_flight_ids.hpp"
#include "dtbus/mqtt/reason.hpp"
#include "dtbus/mqtt/settings.hpp"
#include "dtbus/mqtt/tls.hpp"
#include "dtbus/mqtt/topic_alias.hpp"
#include "dtbus/util/interrupt.hpp"

namespace dtbus::mqtt {
namespace {

using Clock = std::chrono::steady_clock;

// Session expiry given to "clean" MQTT 5 sessions so a reconnect keeps queued QoS>0 messages.
constexpr uint32_t kReconnectGraceSeconds = 120;
constexpr double kMaxBackoffSeconds = 60.0;
// How long disconnect() lets the network thread flush queued packets and the DISCONNECT.
constexpr int kStopGraceSeconds = 2;
// The same loss this many times in a row, each time before anything was acknowledged, ends the
// reconnects (when the owner handles on_gave_up): the broker will not take what is pending.
constexpr int kSameLossLimit = 5;
// libmosquitto's in-flight limit for outgoing QoS>0 messages when the broker names none.
constexpr int64_t kLibmosquittoSendMaximum = 20;

struct LibraryInit {
  LibraryInit() { mosquitto_lib_init(); }
};

void ensure_library() { static LibraryInit init; }

bool is_auth_reason(int reason, int protocol) {
  if (protocol != 5) {  // 3.1.1 and 3.1 share the CONNACK return codes
    return reason == CONNACK_REFUSED_BAD_USERNAME_PASSWORD ||
           reason == CONNACK_REFUSED_NOT_AUTHORIZED;
  }
  return reason == MQTT_RC_BAD_USERNAME_OR_PASSWORD || reason == MQTT_RC_NOT_AUTHORIZED ||
         reason == MQTT_RC_BAD_AUTHENTICATION_METHOD || reason == MQTT_RC_BANNED;
}

void read_properties(const mosquitto_property* props, MessageProperties& out) {
  for (const mosquitto_property* p = props; p != nullptr; p = mosquitto_property_next(p)) {
    switch (mosquitto_property_identifier(p)) {
      case MQTT_PROP_CONTENT_TYPE: {
        char* value = nullptr;
        if (mosquitto_property_read_string(p, MQTT_PROP_CONTENT_TYPE, &value, false)) {
          out.content_type = value;
          free(value);
        }
        break;
      }
      case MQTT_PROP_MESSAGE_EXPIRY_INTERVAL: {
        uint32_t value = 0;
        if (mosquitto_property_read_int32(p, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL, &value, false)) {
          out.message_expiry = value;
        }
        break;
      }
      case MQTT_PROP_PAYLOAD_FORMAT_INDICATOR: {
        uint8_t value = 0;
        if (mosquitto_property_read_byte(p, MQTT_PROP_PAYLOAD_FORMAT_INDICATOR, &value, false)) {
          out.payload_is_utf8 = value != 0;
        }
        break;
      }
      case MQTT_PROP_RESPONSE_TOPIC: {
        char* value = nullptr;
        if (mosquitto_property_read_string(p, MQTT_PROP_RESPONSE_TOPIC, &value, false)) {
          out.response_topic = value;
          free(value);
        }
        break;
      }
      case MQTT_PROP_CORRELATION_DATA: {
        void* value = nullptr;
        uint16_t length = 0;
        if (mosquitto_property_read_binary(p, MQTT_PROP_CORRELATION_DATA, &value, &length, false)) {
          out.correlation_data.assign(static_cast<char*>(value), length);
          free(value);
        }
        break;
      }
      case MQTT_PROP_USER_PROPERTY: {
        char* key = nullptr;
        char* value = nullptr;
        if (mosquitto_property_read_string_pair(p, MQTT_PROP_USER_PROPERTY, &key, &value, false)) {
          out.user.push_back({key, value});
          free(key);
          free(value);
        }
        break;
      }
      default:
        break;
    }
  }
}

// Owns a mosquitto_property list.
struct PropertyList {
  mosquitto_property* head = nullptr;
  PropertyList() = default;
  PropertyList(const PropertyList&) = delete;
  PropertyList& operator=(const PropertyList&) = delete;
  ~PropertyList() { mosquitto_property_free_all(&head); }
};

void build_properties(const MessageProperties& in, PropertyList& out) {
  if (!in.content_type.empty()) {
    mosquitto_property_add_string(&out.head, MQTT_PROP_CONTENT_TYPE, in.content_type.c_str());
  }
  if (in.message_expiry) {
    mosquitto_property_add_int32(&out.head, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL, *in.message_expiry);
  }
  if (in.payload_is_utf8) {
    mosquitto_property_add_byte(&out.head, MQTT_PROP_PAYLOAD_FORMAT_INDICATOR,
                                *in.payload_is_utf8 ? 1 : 0);
  }
  if (!in.response_topic.empty()) {
    mosquitto_property_add_string(&out.head, MQTT_PROP_RESPONSE_TOPIC, in.response_topic.c_str());
  }
  if (!in.correlation_data.empty()) {
    mosquitto_property_add_binary(&out.head, MQTT_PROP_CORRELATION_DATA, in.correlation_data.data(),
                                  static_cast<uint16_t>(in.correlation_data.size()));
  }
  for (const auto& [key, value] : in.user) {
    mosquitto_property_add_string_pair(&out.head, MQTT_PROP_USER_PROPERTY, key.c_str(),
                                       value.c_str());
  }
}

}  // namespace

struct Connection::Impl {
  mqtt::ConnectionSettings settings;
  Handlers handlers;
  mosquitto* mosq = nullptr;
  std::thread network;

  mutable std::mutex mutex;
  std::condition_variable changed;
  // Guarded by mutex:
  // Written under mutex (waiters use `changed`); read without it on the publishing path.
  std::atomic<bool> is_connected{false};
  bool ever_connected = false;
  bool stopping = false;
  bool first_attempt_done = false;
  std::optional<Error> first_failure;
  std::string last_log_error;
  // The reason code of a DISCONNECT the broker sent, for the "connection lost" message.
  std::optional<int> broker_disconnect_reason;
  std::map<int, std::vector<int>> pending_subacks;  // mid -> granted qos, filled on SUBACK
  std::vector<Subscription> subscriptions;          // for re-subscribing after a lost session
  bool renew_requested = false;
  std::optional<Clock::time_point> renew_at;
  std::optional<Clock::time_point> stop_requested_at;

  // Negotiation and the broker's limits (guarded by mutex).
  bool protocol_refused = false;  // the first attempt looked like a broker refusing MQTT 5
  bool fell_back = false;         // connected with 3.1.1 after MQTT 5 was refused
  // The CONNACK's Maximum QoS (2 when it names none); read without the mutex on every publish.
  std::atomic<int> broker_max_qos{2};
  // How many QoS>0 messages libmosquitto keeps in flight: the CONNACK's Receive Maximum, else
  // its own default of 20 (it does not take an absent one as 65535).
  std::atomic<int64_t> send_maximum{kLibmosquittoSendMaximum};
  std::optional<bool> shared_subscriptions;  // v5 CONNACK "shared subscription available"
  InFlightIds in_flight;                     // not guarded: lock-free between the two threads
  std::atomic<bool> progress{false};         // anything acknowledged or received since CONNACK
  bool gave_up = false;
  int same_losses = 0;  // network thread only: see kSameLossLimit
  std::string last_loss;

  std::atomic<int> reconnects{0};
  // libmosquitto logged sending CONNECT: through --proxy, the SOCKS5 handshake is over. (Atomic:
  // on_log runs under libmosquitto's log lock, which a publish under our mutex may wait for.)
  std::atomic<bool> connect_sent{false};
  size_t current_node = 0;        // network thread only: index into host:port + failover
  int failed_attempts = 0;        // network thread only: consecutive reconnects without a CONNACK
  int failed_renewals = 0;        // network thread only: consecutive token renewals that failed
  bool abandoned_thread = false;  // network thread stuck in a blocking connect at timeout
  std::chrono::microseconds latency{0};
  Clock::time_point connect_started;
  std::mt19937 random{std::random_device{}()};
  std::unique_ptr<CertificateCheck> certificate_check;  // with TLS that verifies the server
  BrokerInfo broker_info;                               // of the last CONNACK; guarded by mutex
  TopicAliases topic_aliases;                           // pub --topic-alias; guarded by mutex
  std::atomic<bool> topic_alias_warned{false};

  void record_broker_info(const mosquitto_property* properties, bool session_present) {
    auto info = parse_connack(properties, settings.protocol, session_present);
    bool verified = settings.tls.enabled && !settings.tls.insecure;
    info.tls = read_tls_facts(static_cast<const ssl_st*>(mosquitto_ssl_get(mosq)), verified);
    std::lock_guard lock(mutex);
    topic_aliases.reset(info.topic_alias_maximum.value_or(0));
    broker_max_qos = info.maximum_qos.value_or(2);
    send_maximum = info.receive_maximum.value_or(kLibmosquittoSendMaximum);
    shared_subscriptions = info.shared_subscription_available;
    broker_info = std::move(info);
  }

  uint32_t session_expiry() const {
    if (settings.protocol != 5) return 0;
    if (settings.requested_session_expiry) return *settings.requested_session_expiry;
    return settings.clean_session ? kReconnectGraceSeconds : settings.session_expiry;
  }

  void apply_credentials() {
    if (!settings.credentials) return;
    auth::Credentials credentials = settings.credentials->current();
    mosquitto_username_pw_set(
        mosq, credentials.username.empty() ? nullptr : credentials.username.c_str(),
        credentials.password.empty() ? nullptr : credentials.password.c_str());
    std::lock_guard lock(mutex);
    renew_at.reset();
    if (credentials.expires_at) {
      // Renew token_refresh_margin before expiry (steady clock so wall-clock jumps don't matter).
      auto remaining = *credentials.expires_at - std::chrono::system_clock::now();
      auto margin = std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::duration<double>(settings.token_refresh_margin));
      auto until_renew = remaining - margin;
      if (until_renew < std::chrono::seconds(1)) until_renew = std::chrono::seconds(1);
      renew_at = Clock::now() + std::chrono::duration_cast<Clock::duration>(until_renew);
    }
  }

  // A first connection through --proxy that failed on the proxy's side (libmosquitto reaches
  // only the proxy itself). Exit 4 throughout: libmosquitto maps the proxy's reply codes so that
  // a refused login and a refused onward connection cannot be told apart reliably.
  std::optional<Error> proxy_error(int rc) {
    const ProxySettings& proxy = settings.proxy;
    std::string broker = settings.host + ":" + std::to_string(settings.port);
    std::string prefix = "SOCKS5 proxy " + proxy.shown;
    switch (rc) {
      case MOSQ_ERR_EAI:
        return Error(ExitCode::connect, "cannot resolve the host of " + prefix);
      case MOSQ_ERR_ERRNO:
        return Error(ExitCode::connect, "cannot connect to " + prefix + " (on the way to " +
                                            broker + "): " + std::strerror(errno));
      case MOSQ_ERR_NO_CONN:
        return Error(ExitCode::connect,
                     prefix + " cannot reach the broker " + broker + " (unreachable or refused)");
      case MOSQ_ERR_AUTH:
      case MOSQ_ERR_PROXY:
      case MOSQ_ERR_INVAL:
      case MOSQ_ERR_CONN_LOST:
        if (proxy.username.empty() && rc == MOSQ_ERR_AUTH) {
          return Error(ExitCode::connect,
                       prefix +
                           " refused: it wants a login we did not offer (give "
                           "socks5h://USER:PASSWORD@HOST:PORT), or it may not connect to " +
                           broker);
        }
        return Error(ExitCode::connect,
                     prefix + " refused " +
                         (proxy.username.empty() ? std::string()
                                                 : "the login of user '" + proxy.username +
                                                       "' (wrong proxy user or password?) or ") +
                         "the connection to " + broker + " (" + mosquitto_strerror(rc) + ")");
      default:
        return std::nullopt;
    }
  }

  bool in_proxy_handshake() const { return !settings.proxy.host.empty() && !connect_sent; }

  Error connect_error(int rc) {
    std::string where = settings.describe();
    if (in_proxy_handshake()) {
      if (std::optional<Error> error = proxy_error(rc)) return *error;
    }
    switch (rc) {
      case MOSQ_ERR_EAI:
        return Error(ExitCode::connect,
                     "cannot resolve host '" + settings.host + "' (" + where + ")");
      case MOSQ_ERR_ERRNO:
        return Error(ExitCode::connect, "cannot connect to " + where + ": " + std::strerror(errno));
      case MOSQ_ERR_TLS: {
        std::string refused = certificate_check ? certificate_check->last_failure() : "";
        std::string detail = !refused.empty() ? refused : last_log_error;
        if (!settings.tls.psk.empty()) {
          detail += std::string(detail.empty() ? "" : " ") + "(TLS-PSK identity '" +
                    settings.tls.psk_identity + "': a wrong key or unknown identity fails here)";
        }
        return Error(ExitCode::connect, "TLS handshake with " + where + " failed" +
                                            (detail.empty() ? "" : ": " + detail));
      }
      default:
        return Error(ExitCode::connect,
                     "cannot connect to " + where + ": " + mosquitto_strerror(rc) +
                         (last_log_error.empty() ? "" : " (" + last_log_error + ")"));
    }
  }

  void fail_first(Error error) {
    std::lock_guard lock(mutex);
    if (!first_attempt_done) {
      first_attempt_done = true;
      first_failure = std::move(error);
    }
    changed.notify_all();
  }

  // Connects to node `node` of host:port + settings.failover (network thread).
  int start_connection(size_t node = 0) {
    PropertyList properties;
    uint32_t expiry = session_expiry();
    if (expiry > 0) {
      mosquitto_property_add_int32(&properties.head, MQTT_PROP_SESSION_EXPIRY_INTERVAL, expiry);
    }
    current_node = node;
    const std::string& host = node == 0 ? settings.host : settings.failover[node - 1].first;
    int port = node == 0 ? settings.port : settings.failover[node - 1].second;
    return mosquitto_connect_bind_v5(mosq, host.c_str(), port, settings.keepalive, nullptr,
                                     properties.head);
  }

  std::string node_name(size_t node) const {
    if (node == 0) return settings.host + ":" + std::to_string(settings.port);
    return settings.failover[node - 1].first + ":" +
           std::to_string(settings.failover[node - 1].second);
  }

  // The first connect: each node in turn while they cannot be reached at all.
  int start_first_connection() {
    int rc = start_connection(0);
    for (size_t node = 1; node <= settings.failover.size(); ++node) {
      if (rc != MOSQ_ERR_ERRNO && rc != MOSQ_ERR_EAI) break;
      spdlog::warn("cannot reach {} ({}); trying {}", node_name(node - 1), connect_error(rc).what(),
                   node_name(node));
      rc = start_connection(node);
    }
    return rc;
  }

  // A reconnect: with failover nodes, the next one in turn (the lost one is likely down).
  int reconnect() {
    if (settings.failover.empty()) return mosquitto_reconnect(mosq);
    size_t next = (current_node + 1) % (settings.failover.size() + 1);
    spdlog::warn("failing over from {} to {}", node_name(current_node), node_name(next));
    return start_connection(next);
  }

  double backoff_seconds(int attempt) {
    double base = settings.reconnect_interval > 0 ? settings.reconnect_interval : 1.0;
    double delay = base * std::pow(2.0, std::min(attempt, 10));
    delay = std::min(delay, std::max(kMaxBackoffSeconds, base));
    // Full jitter keeps a fleet of clients from reconnecting in lock-step.
    std::uniform_real_distribution<double> jitter(0.5, 1.0);
    return delay * jitter(random);
  }

  // Sleeps unless stopping; returns false when stopping.
  bool sleep_unless_stopping(double seconds) {
    std::unique_lock lock(mutex);
    return !changed.wait_for(lock, std::chrono::duration<double>(seconds),
                             [&] { return stopping; });
  }

  bool stop_requested() {
    std::lock_guard lock(mutex);
    return stopping;
  }

  void network_loop() {
    int rc = start_first_connection();
    if (rc != MOSQ_ERR_SUCCESS) {
      fail_first(connect_error(rc));
      return;
    }
    while (true) {
      rc = mosquitto_loop(mosq, 1000, 1);
      if (rc == MOSQ_ERR_SUCCESS) {
        if (stop_overdue()) return;  // DISCONNECT could not be written (broker not reading)
        maybe_renew_credentials();
        continue;
      }
      bool first_done;
      {
        std::lock_guard lock(mutex);
        // A refused first CONNACK already reported its error: no reconnect loop behind it.
        if (stopping || first_failure) return;
        first_done = first_attempt_done;
      }
      if (!first_done) {
        // A broker that does not speak MQTT 5 may just close the connection (RabbitMQ 3.10).
        bool through_proxy = in_proxy_handshake();
        if (!through_proxy && (rc == MOSQ_ERR_CONN_LOST || rc == MOSQ_ERR_PROTOCOL ||
                               rc == MOSQ_ERR_MALFORMED_PACKET)) {
          std::lock_guard lock(mutex);
          protocol_refused = true;
        }
        fail_first(rc == MOSQ_ERR_CONN_REFUSED ? Error(ExitCode::auth, "refused")
                                               : connect_error(rc));
        return;
      }
      bool planned;
      {
        std::lock_guard lock(mutex);
        planned = renew_requested;
        renew_requested = false;
      }
      if (!planned) {  // (a planned renewal has its new credentials already)
        std::string why = lost_reason(rc);
        if (std::optional<std::string> diagnosis = diagnose_loss(rc, why)) {
          {
            std::lock_guard lock(mutex);
            gave_up = true;
            changed.notify_all();
          }
          handlers.on_gave_up(*diagnosis);
          return;
        }
        double delay = backoff_seconds(failed_attempts++);
        spdlog::warn("connection to {} lost ({}); reconnecting in {:.1f} s", settings.describe(),
                     why, delay);
        if (handlers.on_connection_lost) handlers.on_connection_lost(why);
        if (!sleep_unless_stopping(delay)) return;
        if (!refresh_credentials()) return;
      }
      reconnects++;
      rc = reconnect();
      if (rc != MOSQ_ERR_SUCCESS) {
        spdlog::debug("reconnect to {} failed: {}", settings.describe(), mosquitto_strerror(rc));
      }
    }
  }

  // A loss that reconnecting will not cure, when the owner wants to know (on_gave_up): a broker
  // without QoS 2 (on 3.1.1 it can only break the link), or the same loss kSameLossLimit times
  // in a row with messages pending and nothing acknowledged in between.
  std::optional<std::string> diagnose_loss(int rc, const std::string& why) {
    if (!handlers.on_gave_up) return std::nullopt;
    std::lock_guard lock(mutex);
    bool stuck = !progress && in_flight.pending() > 0;
    bool qos2_pending = in_flight.any_qos2_pending();
    same_losses = stuck && why == last_loss ? same_losses + 1 : (stuck ? 1 : 0);
    last_loss = why;
    if (stuck && qos2_pending && settings.protocol == 311 &&
        (rc == MOSQ_ERR_PROTOCOL || same_losses >= 2)) {
      return "broker " + settings.describe() +
             " does not accept QoS 2: the MQTT 3.1.1 connection broke (" + why +
             ") each time a QoS 2 message was pending (RabbitMQ and AWS IoT take at most QoS 1, "
             "and 3.1.1 cannot say so); publish with -q 1";
    }
    if (same_losses >= kSameLossLimit) {
      return "broker " + settings.describe() + " closed the connection " +
             std::to_string(same_losses) + " times in a row (" + why +
             "), each time before acknowledging any of the " + std::to_string(in_flight.pending()) +
             " pending message(s); giving up";
    }
    return std::nullopt;
  }

  // Why the link went down: the broker's DISCONNECT reason when it sent one, else the error.
  std::string lost_reason(int rc) {
    std::lock_guard lock(mutex);
    std::optional<int> reason = std::exchange(broker_disconnect_reason, std::nullopt);
    if (reason) return "the broker sent DISCONNECT: " + reason_text(*reason);
    if (rc == MOSQ_ERR_TLS && certificate_check) {
      std::string refused = certificate_check->last_failure();
      if (!refused.empty()) return "TLS: " + refused;
    }
    if (rc == MOSQ_ERR_KEEPALIVE) {  // libmosquitto 2.0.11 has no text for it ("Unknown error.")
      return "no answer from the broker within the keepalive (" +
             std::to_string(settings.keepalive) + " s)";
    }
    return mosquitto_strerror(rc);
  }

  // True once disconnect() has waited kStopGraceSeconds for the DISCONNECT to be written.
  bool stop_overdue() {
    std::lock_guard lock(mutex);
    return stopping && stop_requested_at &&
           Clock::now() - *stop_requested_at > std::chrono::seconds(kStopGraceSeconds);
  }

  // Credentials for a reconnect; a failing token endpoint is retried with backoff, each failure
  // logged. False when stopping.
  bool refresh_credentials() {
    while (true) {
      try {
        apply_credentials();
        return true;
      } catch (const Error& e) {
        double delay = backoff_seconds(failed_attempts++);
        spdlog::warn("cannot refresh credentials: {}; retrying in {:.1f} s", e.what(), delay);
        if (!sleep_unless_stopping(delay)) return false;
      }
    }
  }

  void maybe_renew_credentials() {
    {
      std::lock_guard lock(mutex);
      if (!renew_at || Clock::now() < *renew_at || stopping) return;
      renew_at.reset();
    }
    spdlog::info("token for {} is about to expire; renewing the connection", settings.describe());
    settings.credentials->invalidate();  // the cache must not hand the expiring token back
    // The new token first: while the token endpoint fails, the connection we have stays up.
    try {
      apply_credentials();
    } catch (const Error& e) {
      double delay = backoff_seconds(failed_renewals++);
      spdlog::warn(
          "cannot refresh credentials: {}; keeping the current connection, retrying in {:.1f} s",
          e.what(), delay);
      std::lock_guard lock(mutex);
      renew_at = Clock::now() +
                 std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(delay));
      return;
    }
    failed_renewals = 0;
    {
      std::lock_guard lock(mutex);
      renew_requested = true;
    }
    // The next loop iteration sees the closed socket and reconnects at once with the new
    // credentials; unacknowledged QoS>0 messages are resent by libmosquitto.
    mosquitto_disconnect(mosq);
  }

  // ---- libmosquitto callbacks (network thread) ----
  static Impl* self(void* obj) { return static_cast<Impl*>(obj); }

  static void on_connect(mosquitto*, void* obj, int reason, int flags,
                         const mosquitto_property* properties) {
    Impl* impl = self(obj);
    bool session_present = (flags & 0x01) != 0;
    if (reason != 0 && impl->settings.protocol == 5 &&
        (reason == MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION ||
         reason == CONNACK_REFUSED_PROTOCOL_VERSION)) {
      std::lock_guard lock(impl->mutex);
      if (!impl->first_attempt_done) impl->protocol_refused = true;
    }
    if (reason != 0) {
      int code = reason;
      std::string text = connack_reason_text(code, impl->settings.protocol);
      bool auth = is_auth_reason(code, impl->settings.protocol);
      std::string message =
          "broker " + impl->settings.describe() + " refused the connection: " + text;
      if (auth && impl->settings.credentials == nullptr) message += " (no credentials were given)";
      {
        std::lock_guard lock(impl->mutex);
        if (impl->first_attempt_done) {
          spdlog::warn("{}", message);
          // A refused token (revoked, rotated) must not come back from the cache on retry.
          if (auth && impl->settings.credentials) impl->settings.credentials->invalidate();
          return;
        }
      }
      impl->fail_first(Error(auth ? ExitCode::auth : ExitCode::connect, message));
      return;
    }
    // Before the link counts as up: a caller woken by connect() reads the broker's limits.
    impl->record_broker_info(properties, session_present);
    bool reconnect;
    std::vector<Subscription> resubscribe;
    {
      std::lock_guard lock(impl->mutex);
      if (impl->abandoned_thread) return;  // a timed-out attempt connecting after all
      reconnect = impl->ever_connected;
      if (!impl->ever_connected) {
        impl->latency = std::chrono::duration_cast<std::chrono::microseconds>(
            Clock::now() - impl->connect_started);
      }
      impl->ever_connected = true;
      impl->is_connected = true;
      impl->failed_attempts = 0;
      impl->first_attempt_done = true;
      impl->progress = false;
      impl->broker_disconnect_reason.reset();
      if (reconnect && !session_present) resubscribe = impl->subscriptions;
    }
    if (reconnect) {
      spdlog::info("reconnected to {} (session {})", impl->settings.describe(),
                   session_present ? "kept" : "new");
    } else if (!spdlog::should_log(spdlog::level::trace)) {
      // With a log callback set, libmosquitto formats a line for every packet (a third of the
      // instructions of a QoS 1 publish); after the first connect only -vvv reads them.
      mosquitto_log_callback_set(impl->mosq, nullptr);
    }
    for (const auto& s : resubscribe) impl->send_subscribe(s, nullptr);
    if (impl->handlers.on_connect) impl->handlers.on_connect(session_present, reconnect);
    impl->changed.notify_all();
  }

  static void on_disconnect(mosquitto*, void* obj, int rc, const mosquitto_property*) {
    Impl* impl = self(obj);
    std::lock_guard lock(impl->mutex);
    impl->is_connected = false;
    impl->topic_aliases.reset(0);
    // MQTT 5: the reason code of the broker's DISCONNECT; otherwise a MOSQ_ERR_* (all < 0x80).
    if (rc >= 0x80 && impl->settings.protocol == 5) {
      impl->broker_disconnect_reason = rc;
      spdlog::debug("{} sent DISCONNECT: {}", impl->settings.describe(), reason_text(rc));
    } else if (rc != 0) {
      spdlog::debug("disconnected from {}: {}", impl->settings.describe(), mosquitto_strerror(rc));
    }
    impl->changed.notify_all();
  }

  static void on_publish(mosquitto* mosq, void* obj, int mid, int reason,
                         const mosquitto_property*) {
    Impl* impl = self(obj);
    impl->progress = true;
    // With messages queued behind the broker's Receive Maximum, libmosquitto sends the next one
    // now and the TCP ACK rides on it; otherwise nothing may be sent for a while.
    if (impl->in_flight.done(mid) && impl->in_flight.pending() < impl->send_maximum) {
      acknowledge_at_once(mosq);
    }
    if (impl->handlers.on_publish) impl->handlers.on_publish(mid, reason);
  }

  // A broker that leaves Nagle on (mosquitto's default) holds each PUBACK until the previous one
  // is ACKed at the TCP level; once our window is full we send nothing for the ACK to ride on,
  // so the kernel's delayed ACK (40 ms) would pace the whole stream: 3k instead of 90k msg/s
  // (bench/pubsub.sh, Receive Maximum 1000). Quick-ack makes the kernel ACK what arrived now.
  static void acknowledge_at_once(mosquitto* mosq) {
    int fd = mosquitto_socket(mosq);
    int on = 1;
    if (fd >= 0) setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &on, sizeof on);
  }

  static void on_message(mosquitto*, void* obj, const mosquitto_message* msg,
                         const mosquitto_property* props) {
    Impl* impl = self(obj);
    impl->progress = true;
    if (!impl->handlers.on_message) return;
    ReceivedMessage message;
    message.topic = msg->topic;
    message.payload.assign(static_cast<const char*>(msg->payload),
                           static_cast<size_t>(msg->payloadlen));
    message.qos = msg->qos;
    message.retain = msg->retain;
    message.mid = msg->mid;
    read_properties(props, message.properties);
    impl->handlers.on_message(message);
  }

  static void on_subscribe(mosquitto*, void* obj, int mid, int count, const int* granted,
                           const mosquitto_property*) {
    Impl* impl = self(obj);
    std::lock_guard lock(impl->mutex);
    auto it = impl->pending_subacks.find(mid);
    if (it != impl->pending_subacks.end()) {
      it->second.assign(granted, granted + count);
      impl->changed.notify_all();
    }
  }

  // libmosquitto's passphrase callback for an encrypted client key (userdata: the Impl).
  static int key_password(char* buffer, int size, int, void* userdata) {
    const std::string& password = self(userdata)->settings.tls.key_password;
    int length = static_cast<int>(password.size());
    if (length > size) return -1;
    std::memcpy(buffer, password.data(), password.size());
    return length;
  }

  static void on_log(mosquitto*, void* obj, int level, const char* text) {
    Impl* impl = self(obj);
    if (level == MOSQ_LOG_ERR || level == MOSQ_LOG_WARNING) {
      std::lock_guard lock(impl->mutex);
      impl->last_log_error = text;
    }
    if (level == MOSQ_LOG_DEBUG && std::strstr(text, " sending CONNECT") != nullptr)
      impl->connect_sent = true;
    spdlog::trace("libmosquitto: {}", text);
  }

  // A broker without shared subscriptions takes `$share/g/t` as a literal topic: nothing arrives.
  void warn_unshared(const std::string& filter) {
    std::lock_guard lock(mutex);
    if (shared_subscriptions == false) {
      spdlog::warn(
          "broker {} says it has no shared subscriptions (CONNACK): '{}' will not split "
          "messages between workers",
          settings.describe(), filter);
    } else if (fell_back) {
      spdlog::warn(
          "broker {} speaks only MQTT 3.1.1 and may not know shared subscriptions "
          "(RabbitMQ 3.10 and aedes take '{}' as a literal topic)",
          settings.describe(), filter);
    }
  }

  // pub --topic-alias (settings.topic_alias): whether this message may use an alias; says once
  // why not when it may not.
  bool topic_alias_usable(int qos) {
    std::string why;
    if (settings.protocol != 5) {
      why = "topic aliases need MQTT 5";
    } else if (qos > 0) {
      // libmosquitto 2.0.11 resends an unacknowledged message after a reconnect as it was
      // stored: an alias-only message would name an alias the new connection does not know.
      why =
          "QoS 1/2 messages carry their topic (one resent after a reconnect would otherwise "
          "name an alias the new connection does not know)";
    } else {
      std::lock_guard lock(mutex);
      if (broker_info.topic_alias_maximum.value_or(0) > 0) return true;
      why = "broker " + settings.describe() +
            " allows no topic aliases (its CONNACK says Topic Alias Maximum 0)";
    }
    if (!topic_alias_warned.exchange(true))
      spdlog::warn("--topic-alias: {}; publishing with the full topic", why);
    return false;
  }

  // A QoS 0 publish with the topic's alias (mutex held): the topic only when the broker does not
  // know the alias yet on this connection.
  int publish_aliased(int* mid, const std::string& topic, std::string_view payload, bool retain,
                      const mosquitto_property* base) {
    TopicAliases::Use use = topic_aliases.use(topic);
    PropertyList props;
    if (base != nullptr) mosquitto_property_copy_all(&props.head, base);
    if (use.alias != 0) mosquitto_property_add_int16(&props.head, MQTT_PROP_TOPIC_ALIAS, use.alias);
    int rc = mosquitto_publish_v5(mosq, mid, use.known ? nullptr : topic.c_str(),
                                  static_cast<int>(payload.size()), payload.data(), 0, retain,
                                  props.head);
    if (rc != MOSQ_ERR_SUCCESS && use.alias != 0 && !use.known) topic_aliases.forget(topic);
    return rc;
  }

  void use_proxy() {
    const ProxySettings& proxy = settings.proxy;
    // libmosquitto 2.0.11 sends CONNECT without its properties after a SOCKS5 handshake
    // (socks5__read passes none): the broker would get no session expiry and end a durable
    // session at the first disconnect, losing what it queues for us.
    bool durable = !settings.clean_session || settings.requested_session_expiry.value_or(0) > 0;
    if (settings.protocol == 5 && durable) {
      throw Error(ExitCode::usage,
                  "a durable MQTT 5 session cannot go through a SOCKS5 proxy: libmosquitto "
                  "2.0.11 leaves the session expiry out of CONNECT there, so the broker would end "
                  "the session when we disconnect; use -V 311 (the broker keeps a 3.1.1 session) "
                  "or connect without --proxy");
    }
    // A user without a password gets an empty one: libmosquitto 2.0.11 would read a null one.
    bool login = !proxy.username.empty();
    int rc = mosquitto_socks5_set(mosq, proxy.host.c_str(), proxy.port,
                                  login ? proxy.username.c_str() : nullptr,
                                  login ? proxy.password.c_str() : nullptr);
    if (rc != MOSQ_ERR_SUCCESS) {
      throw Error(ExitCode::usage,
                  "SOCKS5 proxy " + proxy.shown + " not accepted: " + mosquitto_strerror(rc));
    }
  }

  // TLS-PSK instead of certificates: the key proves both sides; the key is never in a message.
  void use_psk() {
    const TlsSettings& tls = settings.tls;
    const char* ciphers = tls.ciphers.empty() ? nullptr : tls.ciphers.c_str();
    int rc = mosquitto_tls_psk_set(mosq, tls.psk.c_str(), tls.psk_identity.c_str(), ciphers);
    if (rc == MOSQ_ERR_SUCCESS) {
      rc = mosquitto_tls_opts_set(mosq, 0, tls.version.empty() ? nullptr : tls.version.c_str(),
                                  ciphers);
    }
    if (rc == MOSQ_ERR_SUCCESS && !tls.alpn.empty())
      rc = mosquitto_string_option(mosq, MOSQ_OPT_TLS_ALPN, tls.alpn.c_str());
    if (rc != MOSQ_ERR_SUCCESS) {
      throw Error(ExitCode::usage, "TLS-PSK settings (identity '" + tls.psk_identity +
                                       "') rejected: " + mosquitto_strerror(rc));
    }
  }

  void create_client();
  void first_connect();
  bool retry_with_311();
  // One connect attempt: a fresh libmosquitto client, its options, the network thread, the wait
  // for the first CONNACK, and once more with 3.1.1 when the broker refuses MQTT 5.
  void connect_attempt();
  // Stops an Impl's network thread and frees it; one stuck in a blocking TCP connect is left to
  // finish on its own (its Impl leaks; on_connect no longer calls the handlers).
  static void dispose(std::unique_ptr<Impl>& owned);

  int send_subscribe(const Subscription& s, int* mid) {
    int options = 0;
    if (settings.protocol == 5) {
      if (s.no_local) options |= MQTT_SUB_OPT_NO_LOCAL;
      if (s.retain_as_published) options |= MQTT_SUB_OPT_RETAIN_AS_PUBLISHED;
      if (s.retain_handling == 1) options |= MQTT_SUB_OPT_SEND_RETAIN_NEW;
      if (s.retain_handling == 2) options |= MQTT_SUB_OPT_SEND_RETAIN_NEVER;
    }
    return mosquitto_subscribe_v5(mosq, mid, s.filter.c_str(), s.qos, options, nullptr);
  }
};

Connection::Connection(mqtt::ConnectionSettings settings, Handlers handlers)
    : impl_(std::make_unique<Impl>()) {
  ensure_library();
  impl_->settings = std::move(settings);
  impl_->handlers = std::move(handlers);
}

Connection::~Connection() {
  if (impl_) Impl::dispose(impl_);
}

void Connection::Impl::dispose(std::unique_ptr<Impl>& owned) {
  Impl* impl = owned.get();
  {
    std::lock_guard lock(impl->mutex);
    impl->stopping = true;
    impl->stop_requested_at = Clock::now();
    impl->changed.notify_all();
  }
  if (impl->network.joinable()) {
    if (impl->abandoned_thread) {
      // Stuck in a blocking TCP connect: it sees `stopping` once that returns.
      impl->network.detach();
      (void)owned.release();
      return;
    }
    if (impl->mosq) mosquitto_disconnect(impl->mosq);
    impl->network.join();
  }
  if (impl->mosq) mosquitto_destroy(impl->mosq);
  owned.reset();
}

void Connection::Impl::create_client() {
  Impl& impl = *this;
  const auto& s = impl.settings;
  // libmosquitto uses one clean_start flag for every (re)connect, so a "clean" MQTT 5 session is
  // opened with clean_start=false and a short expiry: reconnects then resume it. The generated
  // client id is unique per process, so the first connect still starts fresh.
  bool clean_start = s.protocol == 5 ? false : s.clean_session;
  impl.mosq = mosquitto_new(s.client_id.c_str(), clean_start, &impl);
  if (!impl.mosq) throw Error(ExitCode::runtime, "cannot create MQTT client: out of memory");
  mosquitto_int_option(impl.mosq, MOSQ_OPT_PROTOCOL_VERSION,
                       s.protocol == 311  ? MQTT_PROTOCOL_V311
                       : s.protocol == 31 ? MQTT_PROTOCOL_V31
                                          : MQTT_PROTOCOL_V5);
  mosquitto_threaded_set(impl.mosq, true);
  // Small packets (PUBLISH/PUBACK flows) must not wait for Nagle: QoS 1 throughput is bound by
  // the round trip of the broker's receive-maximum window.
  mosquitto_int_option(impl.mosq, MOSQ_OPT_TCP_NODELAY, 1);
  mosquitto_connect_with_flags_callback_set(impl.mosq, nullptr);
  mosquitto_connect_v5_callback_set(impl.mosq, &Impl::on_connect);
  mosquitto_disconnect_v5_callback_set(impl.mosq, &Impl::on_disconnect);
  mosquitto_publish_v5_callback_set(impl.mosq, &Impl::on_publish);
  mosquitto_message_v5_callback_set(impl.mosq, &Impl::on_message);
  mosquitto_subscribe_v5_callback_set(impl.mosq, &Impl::on_subscribe);
  mosquitto_log_callback_set(impl.mosq, &Impl::on_log);

  if (!s.proxy.host.empty()) impl.use_proxy();
  if (!s.tls.psk.empty()) {
    impl.use_psk();
  } else if (s.tls.enabled && !s.tls.insecure) {
    // Our own SSL_CTX, so that a refused server certificate can be named (tls.hpp).
    impl.certificate_check = std::make_unique<CertificateCheck>(s.host);
    void* context = impl.certificate_check->make_context(s.tls);
    int rc = mosquitto_int_option(impl.mosq, MOSQ_OPT_SSL_CTX_WITH_DEFAULTS, 0);
    if (rc == MOSQ_ERR_SUCCESS) rc = mosquitto_void_option(impl.mosq, MOSQ_OPT_SSL_CTX, context);
    CertificateCheck::free_context(context);  // libmosquitto holds its own reference
    if (rc != MOSQ_ERR_SUCCESS) {
      throw Error(ExitCode::runtime, std::string("cannot set up TLS: ") + mosquitto_strerror(rc));
    }
  } else if (s.tls.enabled) {
    int rc = MOSQ_ERR_SUCCESS;
    if (s.tls.cafile.empty() && s.tls.capath.empty()) {
      rc = mosquitto_int_option(impl.mosq, MOSQ_OPT_TLS_USE_OS_CERTS, 1);
    }
    if (rc == MOSQ_ERR_SUCCESS &&
        (!s.tls.cafile.empty() || !s.tls.capath.empty() || !s.tls.certfile.empty())) {
      rc = mosquitto_tls_set(impl.mosq, s.tls.cafile.empty() ? nullptr : s.tls.cafile.c_str(),
                             s.tls.capath.empty() ? nullptr : s.tls.capath.c_str(),
                             s.tls.certfile.empty() ? nullptr : s.tls.certfile.c_str(),
                             s.tls.keyfile.empty() ? nullptr : s.tls.keyfile.c_str(),
                             s.tls.key_password.empty() ? nullptr : &Impl::key_password);
    }
    if (rc == MOSQ_ERR_SUCCESS) {
      rc = mosquitto_tls_insecure_set(impl.mosq, true);
      if (rc == MOSQ_ERR_SUCCESS) {
        rc = mosquitto_tls_opts_set(impl.mosq, 0,
                                    s.tls.version.empty() ? nullptr : s.tls.version.c_str(),
                                    s.tls.ciphers.empty() ? nullptr : s.tls.ciphers.c_str());
      }
      if (rc == MOSQ_ERR_SUCCESS && !s.tls.alpn.empty())
        rc = mosquitto_string_option(impl.mosq, MOSQ_OPT_TLS_ALPN, s.tls.alpn.c_str());
    }
    if (rc != MOSQ_ERR_SUCCESS) {
      throw Error(ExitCode::config, "TLS settings rejected (cafile '" + s.tls.cafile + "', cert '" +
                                        s.tls.certfile + "', key '" + s.tls.keyfile +
                                        "'): " + mosquitto_strerror(rc));
    }
  }
  if (!s.will.topic.empty()) {
    std::string topic = s.prefixed(s.will.topic);
    int rc = mosquitto_will_set(impl.mosq, topic.c_str(), static_cast<int>(s.will.payload.size()),
                                s.will.payload.data(), s.will.qos, s.will.retain);
    if (rc != MOSQ_ERR_SUCCESS) {
      throw Error(ExitCode::usage,
                  "will message on '" + topic + "' rejected: " + mosquitto_strerror(rc));
    }
  }
  impl.apply_credentials();
}

void Connection::connect() {
  // (Each retry replaces impl_: nothing here may refer into the one that failed.)
  auto started = Clock::now();
  auto retry_until =
      started + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
                    std::max(0.0, impl_->settings.connect_retry_for)));
  for (int attempt = 1;; ++attempt) {
    try {
      impl_->connect_attempt();
      if (attempt > 1)
        spdlog::info("connected to {} at attempt {}", impl_->settings.describe(), attempt);
      return;
    } catch (const Error& e) {
      // Only "cannot connect" is worth another try: refused credentials stay refused.
      bool retries_left = attempt <= impl_->settings.connect_retries || Clock::now() < retry_until;
      if (e.code() != ExitCode::connect || !retries_left) {
        if (attempt == 1) throw;
        double elapsed = std::chrono::duration<double>(Clock::now() - started).count();
        throw Error(e.code(), std::string(e.what()) + " (gave up after " + std::to_string(attempt) +
                                  " attempts in " +
                                  std::to_string(static_cast<int>(std::lround(elapsed))) + " s)");
      }
      double delay = impl_->backoff_seconds(attempt - 1);
      if (impl_->settings.connect_retries < attempt) {
        // Only --retry-for is left: the last attempt at its end, not after it.
        double remaining = std::chrono::duration<double>(retry_until - Clock::now()).count();
        delay = std::clamp(remaining, 0.0, delay);
      }
      spdlog::warn("{}; attempt {} failed, retrying in {:.1f} s", e.what(), attempt, delay);
      auto fresh = std::make_unique<Impl>();
      fresh->settings = impl_->settings;
      fresh->handlers = impl_->handlers;
      Impl::dispose(impl_);
      impl_ = std::move(fresh);
      auto wake = Clock::now() +
                  std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(delay));
      while (Clock::now() < wake) {
        if (interrupt::interrupted()) {
          throw Error(ExitCode::interrupted,
                      "interrupted while connecting to " + impl_->settings.describe());
        }
        std::this_thread::sleep_for(
            std::min<Clock::duration>(wake - Clock::now(), std::chrono::milliseconds(100)));
      }
    }
  }
}

void Connection::Impl::connect_attempt() {
  while (true) {
    create_client();
    try {
      first_connect();
      return;
    } catch (const Error& e) {
      if (!retry_with_311()) throw;
      spdlog::info("{} refused MQTT 5 ({}); connecting again with MQTT 3.1.1", settings.describe(),
                   e.what());
    }
  }
}

// True (ready for another create_client()) when the first attempt failed as a broker that does
// not speak MQTT 5 fails, and the version was not forced.
bool Connection::Impl::retry_with_311() {
  {
    std::lock_guard lock(mutex);
    if (!protocol_refused || !settings.protocol_fallback || settings.protocol != 5 ||
        abandoned_thread) {
      return false;
    }
  }
  if (network.joinable()) network.join();  // it has returned after the failure
  mosquitto_destroy(mosq);
  mosq = nullptr;
  certificate_check.reset();
  if (settings.requested_session_expiry)
    spdlog::warn("--session-expiry does not apply to MQTT 3.1.1: the broker decides");
  std::lock_guard lock(mutex);
  settings.protocol = 311;
  fell_back = true;
  stopping = false;
  first_attempt_done = false;
  first_failure.reset();
  protocol_refused = false;
  last_log_error.clear();
  connect_sent = false;
  return true;
}

void Connection::Impl::first_connect() {
  Impl& impl = *this;
  const auto& s = impl.settings;

  impl.connect_started = Clock::now();
  impl.network = std::thread([&impl] { impl.network_loop(); });

  std::unique_lock lock(impl.mutex);
  auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                     std::chrono::duration<double>(s.connect_timeout));
  // Waits in short steps: SIGINT/SIGTERM (when the command handles them) ends the wait at once.
  bool done = false;
  while (!done && Clock::now() < deadline && !interrupt::interrupted()) {
    auto step = std::min(deadline, Clock::now() + std::chrono::milliseconds(100));
    done = impl.changed.wait_until(lock, step, [&] { return impl.first_attempt_done; });
  }
  if (!done && interrupt::interrupted()) {
    impl.stopping = true;
    impl.abandoned_thread = true;
    throw Error(ExitCode::interrupted, "interrupted while connecting to " + s.describe());
  }
  if (!done) {
    impl.stopping = true;
    impl.abandoned_thread = true;
    throw Error(ExitCode::connect, "timed out after " +
                                       std::to_string(static_cast<int>(s.connect_timeout)) +
                                       " s connecting to " + s.describe());
  }
  if (impl.first_failure) {
    Error failure = *impl.first_failure;
    impl.stopping = true;
    throw failure;
  }
  spdlog::debug("connected to {} in {} us", s.describe(), impl.latency.count());
}

std::chrono::microseconds Connection::connect_latency() const { return impl_->latency; }

bool Connection::connected() const { return impl_->is_connected; }

bool Connection::wait_connected(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->mutex);
  impl_->changed.wait_for(lock, timeout, [&] { return impl_->is_connected || impl_->stopping; });
  return impl_->is_connected && !impl_->stopping;
}

bool Connection::wait_written(std::chrono::milliseconds limit,
                              const std::function<bool()>& stop_waiting) {
  auto deadline = Clock::now() + limit;
  // libmosquitto tells nobody when its queue empties: look every millisecond (this is for
  // leaving, after the last message; it waits a write or two).
  while (mosquitto_want_write(impl_->mosq)) {
    if (!impl_->is_connected || stop_waiting() || Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

int Connection::publish(const std::string& topic, std::string_view payload, int qos, bool retain,
                        const MessageProperties& properties) {
  Impl& impl = *impl_;
  PropertyList props;
  if (impl.settings.protocol == 5 && !properties.empty()) build_properties(properties, props);
  if (int max_qos = impl.broker_max_qos; qos > max_qos) {
    std::string limit = std::to_string(max_qos);
    throw Error(ExitCode::usage, "broker " + impl.settings.describe() + " accepts at most QoS " +
                                     limit + " (its CONNACK says so), not QoS " +
                                     std::to_string(qos) + ": publish with -q " + limit);
  }
  bool aliased = impl.settings.topic_alias && impl.topic_alias_usable(qos);
  while (true) {
    std::unique_lock alias_lock(impl.mutex, std::defer_lock);
    if (qos == 0 && (aliased || !impl.is_connected)) {
      // QoS 0 written while disconnected would be dropped by libmosquitto: wait for the link.
      std::unique_lock lock(impl.mutex);
      impl.changed.wait(lock, [&] { return impl.is_connected || impl.stopping; });
      if (impl.stopping) throw Error(ExitCode::runtime, "connection closed");
      // Held while publishing: a loss or CONNACK (which reset the aliases) cannot come between
      // choosing the alias and queueing the packet on this connection.
      if (aliased) alias_lock = std::move(lock);
    }
    int mid = 0;
    int rc = alias_lock.owns_lock() ? impl.publish_aliased(&mid, topic, payload, retain, props.head)
                                    : mosquitto_publish_v5(impl.mosq, &mid, topic.c_str(),
                                                           static_cast<int>(payload.size()),
                                                           payload.data(), qos, retain, props.head);
    if (alias_lock.owns_lock()) alias_lock.unlock();
    if (rc == MOSQ_ERR_SUCCESS || (qos > 0 && rc == MOSQ_ERR_NO_CONN)) {
      impl.in_flight.sent(mid, qos);
    }
    if (rc == MOSQ_ERR_SUCCESS) return mid;
    if (rc == MOSQ_ERR_NO_CONN) {
      if (qos > 0) return mid;  // queued; libmosquitto sends it after the reconnect
      continue;
    }
    switch (rc) {
      case MOSQ_ERR_INVAL:
      case MOSQ_ERR_MALFORMED_UTF8:
        throw Error(ExitCode::usage, "invalid topic '" + topic + "'");
      case MOSQ_ERR_PAYLOAD_SIZE:
      case MOSQ_ERR_OVERSIZE_PACKET:
        throw Error(ExitCode::runtime, "message too large for the broker (" +
                                           std::to_string(payload.size()) + " bytes) on " + topic);
      case MOSQ_ERR_QOS_NOT_SUPPORTED:
        throw Error(ExitCode::usage, "broker " + impl.settings.describe() +
                                         " does not support QoS " + std::to_string(qos));
      case MOSQ_ERR_RETAIN_NOT_SUPPORTED:
        throw Error(ExitCode::runtime, "broker does not support retained messages");
      default:
        throw Error(ExitCode::runtime, std::string("publish failed: ") + mosquitto_strerror(rc));
    }
  }
}

std::vector<int> Connection::subscribe(const std::vector<Subscription>& subscriptions) {
  Impl& impl = *impl_;
  std::vector<int> granted;
  for (const auto& s : subscriptions) {
    if (s.filter.starts_with("$share/")) impl.warn_unshared(s.filter);
    int mid = 0;
    {
      std::lock_guard lock(impl.mutex);
      impl.subscriptions.push_back(s);
    }
    // Register the mid before the SUBACK can arrive: hold the lock across the send.
    std::unique_lock lock(impl.mutex);
    int rc = impl.send_subscribe(s, &mid);
    if (rc == MOSQ_ERR_NO_CONN) {
      // Link down right now: the subscription is sent again on the reconnect, wait for it.
      auto limit = std::chrono::duration<double>(impl.settings.connect_timeout);
      impl.changed.wait_for(lock, limit, [&] { return impl.is_connected || impl.stopping; });
      rc = impl.send_subscribe(s, &mid);
    }
    if (rc == MOSQ_ERR_NO_CONN) {
      throw Error(ExitCode::connect,
                  "connection to " + impl.settings.describe() + " lost while subscribing");
    }
    if (rc != MOSQ_ERR_SUCCESS) {
      throw Error(ExitCode::usage,
                  "cannot subscribe to '" + s.filter + "': " + mosquitto_strerror(rc));
    }
    impl.pending_subacks[mid];
    bool acked =
        impl.changed.wait_for(lock, std::chrono::duration<double>(impl.settings.connect_timeout),
                              [&] { return !impl.pending_subacks[mid].empty() || impl.stopping; });
    std::vector<int> result = impl.pending_subacks[mid];
    impl.pending_subacks.erase(mid);
    if (!acked || result.empty()) {
      throw Error(ExitCode::connect,
                  "no SUBACK for '" + s.filter + "' from " + impl.settings.describe());
    }
    if (result.front() >= 0x80) {
      throw Error(ExitCode::auth, "broker refused the subscription to '" + s.filter +
                                      "': " + reason_text(result.front()));
    }
    // (Tests against brokers without a subscription log wait for this line.)
    spdlog::debug("subscribed to '{}' on {} (QoS {})", s.filter, impl.settings.describe(),
                  result.front());
    granted.push_back(result.front());
  }
  return granted;
}

void Connection::unsubscribe(const std::vector<std::string>& filters) {
  for (const auto& f : filters) mosquitto_unsubscribe_v5(impl_->mosq, nullptr, f.c_str(), nullptr);
}

void Connection::disconnect() {
  Impl& impl = *impl_;
  if (!impl.mosq || !impl.network.joinable()) return;
  {
    std::lock_guard lock(impl.mutex);
    if (impl.stopping) return;
    impl.stopping = true;
    impl.stop_requested_at = Clock::now();
    impl.changed.notify_all();
  }
  PropertyList props;
  if (impl.settings.protocol == 5 && impl.settings.clean_session) {
    // Drop the reconnect-grace session now that we leave on purpose.
    mosquitto_property_add_int32(&props.head, MQTT_PROP_SESSION_EXPIRY_INTERVAL, 0);
  }
  mosquitto_disconnect_v5(impl.mosq, 0, props.head);
  impl.network.join();
}

const mqtt::ConnectionSettings& Connection::settings() const { return impl_->settings; }

int Connection::reconnect_count() const { return impl_->reconnects.load(); }

BrokerInfo Connection::broker_info() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->broker_info;
}

}  // namespace dtbus::mqtt
