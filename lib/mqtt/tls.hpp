// SPDX-License-Identifier: Apache-2.0
// Why a TLS handshake failed. libmosquitto does the handshake and only logs "certificate verify
// failed"; with an SSL_CTX of ours we see the X509 verification result and say what was wrong:
// unknown CA, hostname mismatch, expired or not yet valid certificate. (libmosquitto 2.0.11
// cannot apply its own defaults to a context it did not create: its verify callback then finds
// no client and refuses every certificate, so the context is complete here.)
#pragma once

#include <mutex>
#include <string>

#include "dtbus/mqtt/settings.hpp"

struct x509_store_ctx_st;  // OpenSSL's X509_STORE_CTX

namespace dtbus::mqtt {

class CertificateCheck {
 public:
  explicit CertificateCheck(std::string host);

  // A new SSL_CTX (as void*, keeping OpenSSL out of this header) set up as libmosquitto would
  // set up its own: TLS 1.2 or newer, the CAs (`cafile`, `capath`, else the system's), the
  // client certificate and key if given (an encrypted key opened with tls.key_password), the
  // server certificate verified against the host name; tls.version, ciphers and alpn applied.
  // Its verification records why it refused the server. The caller hands it to MOSQ_OPT_SSL_CTX
  // and frees its own reference with free_context(); it must not outlive this object. Throws
  // Error(config) for a CA file, certificate or key that cannot be loaded.
  void* make_context(const TlsSettings& tls);
  // The same version, ciphers and ALPN on a context libmosquitto made (--insecure). Throws
  // Error(usage) naming what OpenSSL refused.
  static void apply_options(void* context, const TlsSettings& tls);
  static void free_context(void* context);

  // What the last refused server certificate was wrong with ("unknown CA: ..."); empty when
  // none was refused.
  std::string last_failure() const;

 private:
  static int verify(x509_store_ctx_st* store, void* self);
  void record(std::string failure);

  std::string host_;
  mutable std::mutex mutex_;
  std::string failure_;
};

}  // namespace dtbus::mqtt
