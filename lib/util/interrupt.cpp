// SPDX-License-Identifier: Apache-2.0
#include "dtbus/util/interrupt.hpp"

#include <pthread.h>

#include <csignal>

namespace dtbus::interrupt {
namespace {

volatile std::sig_atomic_t received = 0;
pthread_t main_thread;  // set by install() before the handler can run

extern "C" void record_signal(int signal) {
  received = signal;
  // The kernel may hand the signal to another thread (libmosquitto's): pass it on, so that a
  // blocking read() in the main thread returns EINTR too instead of waiting for more input.
  if (!pthread_equal(pthread_self(), main_thread)) pthread_kill(main_thread, signal);
}

}  // namespace

void install() {
  main_thread = pthread_self();
  struct sigaction action {};
  action.sa_handler = record_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;  // no SA_RESTART: blocking reads return EINTR
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

int pending() { return received; }

}  // namespace dtbus::interrupt
