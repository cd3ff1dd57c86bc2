// SPDX-License-Identifier: Apache-2.0
#include "dtbus/commands/dlq/dlq_command.hpp"

namespace dtbus::commands::dlq {

int run(const Invocation& invocation, const Options& options) {
  switch (options.action) {
    case Options::Action::attach:
      return attach(invocation.globals, invocation.output);
    case Options::Action::list:
      return list(invocation.globals, options.list, invocation.output);
    case Options::Action::recover:
      return recover(invocation.globals, options.recover, invocation.output);
    case Options::Action::purge:
      return purge(invocation.globals, options.purge, invocation.output);
  }
  return 2;
}

}  // namespace dtbus::commands::dlq
