// SPDX-License-Identifier: Apache-2.0
// libdtbus is built with hidden visibility: only declarations between DTBUS_PUBLIC_BEGIN and
// DTBUS_PUBLIC_END (the installed headers, and the entry points the tools call) are exported.
#pragma once

#define DTBUS_PUBLIC_BEGIN _Pragma("GCC visibility push(default)")
#define DTBUS_PUBLIC_END _Pragma("GCC visibility pop")
