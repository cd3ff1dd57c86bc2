// SPDX-License-Identifier: Apache-2.0
#include "dtbus/mqtt/protocol_check.hpp"

#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <unistd.h>

#include <chrono>

#include "dtbus/core/error.hpp"
#include "dtbus/mqtt/reason.hpp"

namespace dtbus::mqtt {
namespace {

struct Outcome {
  bool answered = false;
  int reason = -1;
};

void on_connect(mosquitto*, void* obj, int reason, int, const mosquitto_property*) {
  auto* outcome = static_cast<Outcome*>(obj);
  outcome->answered = true;
  outcome->reason = reason;
}

int set_up_tls(mosquitto* mosq, const TlsSettings& tls) {
  if (!tls.psk.empty()) {
    return mosquitto_tls_psk_set(mosq, tls.psk.c_str(), tls.psk_identity.c_str(), nullptr);
  }
  int rc = MOSQ_ERR_SUCCESS;
  if (tls.cafile.empty() && tls.capath.empty()) {
    rc = mosquitto_int_option(mosq, MOSQ_OPT_TLS_USE_OS_CERTS, 1);
  }
  if (rc == MOSQ_ERR_SUCCESS) {
    auto or_null = [](const std::string& s) { return s.empty() ? nullptr : s.c_str(); };
    rc = mosquitto_tls_set(mosq, or_null(tls.cafile), or_null(tls.capath), or_null(tls.certfile),
                           or_null(tls.keyfile), nullptr);
  }
  if (rc == MOSQ_ERR_SUCCESS && tls.insecure) {
    rc = mosquitto_tls_insecure_set(mosq, true);
    if (rc == MOSQ_ERR_SUCCESS) rc = mosquitto_tls_opts_set(mosq, 0, nullptr, nullptr);
  }
  return rc;
}

}  // namespace

ProtocolAttempt try_protocol(const ConnectionSettings& settings, int protocol) {
  mosquitto_lib_init();  // reference counted; Connection normally did it already
  ProtocolAttempt attempt;
  Outcome outcome;
  std::string client_id =
      "dtbus-probe-" + std::to_string(getpid() % 10000000) + "-" + std::to_string(protocol);
  mosquitto* mosq = mosquitto_new(client_id.c_str(), true, &outcome);
  if (mosq == nullptr) throw Error(ExitCode::runtime, "cannot create MQTT client: out of memory");
  int version = protocol == 31    ? MQTT_PROTOCOL_V31
                : protocol == 311 ? MQTT_PROTOCOL_V311
                                  : MQTT_PROTOCOL_V5;
  mosquitto_int_option(mosq, MOSQ_OPT_PROTOCOL_VERSION, version);
  mosquitto_connect_v5_callback_set(mosq, &on_connect);
  int rc = MOSQ_ERR_SUCCESS;
  if (settings.tls.enabled) rc = set_up_tls(mosq, settings.tls);
  if (rc == MOSQ_ERR_SUCCESS && !settings.proxy.host.empty()) {
    const ProxySettings& proxy = settings.proxy;
    bool login = !proxy.username.empty();  // (an empty password, never a null one: connection.cpp)
    rc = mosquitto_socks5_set(mosq, proxy.host.c_str(), proxy.port,
                              login ? proxy.username.c_str() : nullptr,
                              login ? proxy.password.c_str() : nullptr);
  }
  if (rc == MOSQ_ERR_SUCCESS && settings.credentials) {
    auto credentials = settings.credentials->current();
    rc = mosquitto_username_pw_set(
        mosq, credentials.username.empty() ? nullptr : credentials.username.c_str(),
        credentials.password.empty() ? nullptr : credentials.password.c_str());
  }
  auto started = std::chrono::steady_clock::now();
  if (rc == MOSQ_ERR_SUCCESS) {
    rc = mosquitto_connect(mosq, settings.host.c_str(), settings.port, settings.keepalive);
  }
  auto deadline = started + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                std::chrono::duration<double>(settings.connect_timeout));
  while (rc == MOSQ_ERR_SUCCESS && !outcome.answered &&
         std::chrono::steady_clock::now() < deadline) {
    rc = mosquitto_loop(mosq, 100, 1);
  }
  attempt.connect_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  if (outcome.answered) {
    attempt.reason = outcome.reason;
    attempt.accepted = outcome.reason == 0;
    if (!attempt.accepted)
      attempt.error = "refused: " + connack_reason_text(outcome.reason, protocol == 5 ? 5 : 311);
    mosquitto_disconnect(mosq);
  } else if (rc != MOSQ_ERR_SUCCESS) {
    attempt.error = rc == MOSQ_ERR_ERRNO ? std::string("connection failed or closed by the broker")
                                         : std::string(mosquitto_strerror(rc));
  } else {
    attempt.error = "no CONNACK within the connect timeout";
  }
  mosquitto_destroy(mosq);
  return attempt;
}

}  // namespace dtbus::mqtt
