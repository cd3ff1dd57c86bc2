// SPDX-License-Identifier: Apache-2.0
// libcurl, loaded on first use. Linking it would make every command start slower (it pulls in
// about 30 shared libraries), while only token providers ever make an HTTP request.
#pragma once

#include <curl/curl.h>

namespace dtbus::token {

struct Libcurl {
  CURLcode (*global_init)(long flags);
  CURL* (*easy_init)();
  CURLcode (*easy_setopt)(CURL* handle, CURLoption option, ...);
  CURLcode (*easy_perform)(CURL* handle);
  CURLcode (*easy_getinfo)(CURL* handle, CURLINFO info, ...);
  void (*easy_cleanup)(CURL* handle);
  const char* (*easy_strerror)(CURLcode code);
  curl_slist* (*slist_append)(curl_slist* list, const char* text);
  void (*slist_free_all)(curl_slist* list);
};

// Loads libcurl.so.4 and runs curl_global_init once per process; throws dtbus::Error (exit 1)
// naming the library when it is missing.
const Libcurl& libcurl();

}  // namespace dtbus::token
