// SPDX-License-Identifier: Apache-2.0
#include "dtbus/auth/libcurl.hpp"

#include <dlfcn.h>

#include <string>

#include "dtbus/core/error.hpp"

namespace dtbus::token {
namespace {

constexpr const char* kLibrary = "libcurl.so.4";

template <typename Function>
void bind(void* library, Function& target, const char* symbol) {
  target = reinterpret_cast<Function>(dlsym(library, symbol));
  if (!target) {
    throw Error(ExitCode::runtime,
                std::string(kLibrary) + " has no " + symbol + "; libcurl 7.85 or newer is needed");
  }
}

Libcurl load() {
  // Never unloaded: curl_global_cleanup at exit is not needed and would race other threads.
  void* library = dlopen(kLibrary, RTLD_NOW | RTLD_LOCAL);
  if (!library) {
    const char* why = dlerror();
    throw Error(
        ExitCode::runtime,
        std::string("token providers need libcurl (package libcurl4): ") + (why ? why : kLibrary));
  }
  Libcurl api{};
  bind(library, api.global_init, "curl_global_init");
  bind(library, api.easy_init, "curl_easy_init");
  bind(library, api.easy_setopt, "curl_easy_setopt");
  bind(library, api.easy_perform, "curl_easy_perform");
  bind(library, api.easy_getinfo, "curl_easy_getinfo");
  bind(library, api.easy_cleanup, "curl_easy_cleanup");
  bind(library, api.easy_strerror, "curl_easy_strerror");
  bind(library, api.slist_append, "curl_slist_append");
  bind(library, api.slist_free_all, "curl_slist_free_all");
  CURLcode init = api.global_init(CURL_GLOBAL_DEFAULT);
  if (init != CURLE_OK) {
    throw Error(ExitCode::runtime,
                std::string("cannot initialise libcurl: ") + api.easy_strerror(init));
  }
  return api;
}

}  // namespace

const Libcurl& libcurl() {
  static const Libcurl api = load();  // thread-safe; a failed load is retried on the next call
  return api;
}

}  // namespace dtbus::token
