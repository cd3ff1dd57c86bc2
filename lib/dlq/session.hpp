// SPDX-License-Identifier: Apache-2.0
// The durable DLQ session and the journal housekeeping shared by the dlq commands.
#pragma once

#include <memory>
#include <string>

#include "dtbus/core/global_options.hpp"
#include "dtbus/dlq/spool.hpp"
#include "dtbus/mqtt/settings.hpp"
#include "dtbus/target/target.hpp"

namespace dtbus::dlq {

// Where the DLQ of the chosen broker lives (brokers.yaml `dlq:` or the defaults).
struct Setup {
  target::Target target;
  std::string broker_name;  // entry name, "default" when only flags name the broker
  std::string filter;       // dlq.topic as written (never prefixed)
  std::string client_id;    // durable session (-i overrides dlq.client_id)
  std::string spool_path;
};
Setup resolve_setup(const GlobalOptions& globals);

namespace detail {

struct PullReport {
  size_t received = 0;  // messages the broker handed over
  size_t spooled = 0;   // new entries (retained copies already spooled are not added twice)
  bool session_present = false;
  bool subscribed = false;
};

// Connects with the durable session, subscribes when `subscribe` or when the broker has no
// session for it, and journals every message until the broker has been quiet for a moment.
PullReport pull(const Setup& setup, Spool& spool, bool subscribe);

// The lock and the writable journal, held for one command (pulls unless no_pull).
struct OpenSpool {
  std::unique_ptr<SpoolLock> lock;
  std::unique_ptr<Spool> spool;
  PullReport pulled;
};
OpenSpool open_spool(const Setup& setup, bool pull_first);

// Connection settings for publishing (recover, retained clears): a clean session whose client id
// never equals the durable one.
mqtt::ConnectionSettings publish_settings(const Setup& setup, const GlobalOptions& globals);

}  // namespace detail
}  // namespace dtbus::dlq
