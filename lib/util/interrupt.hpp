// SPDX-License-Identifier: Apache-2.0
// SIGINT/SIGTERM as a flag: the handler only records the signal (no work in signal context);
// long-running loops poll interrupted() between steps and at least every few hundred ms.
// Installed without SA_RESTART so a blocking read() returns EINTR at once.
#pragma once

namespace dtbus::interrupt {

// Call from the main thread: a signal another thread receives is forwarded to it, so that its
// blocking read() is interrupted whichever thread the kernel picked.
void install();
// 0 when no signal arrived, else the signal number (SIGINT or SIGTERM).
int pending();
inline bool interrupted() { return pending() != 0; }

}  // namespace dtbus::interrupt
