# SPDX-License-Identifier: Apache-2.0
# Debian package of what `cmake --install` installs: `cpack -G DEB` in a build dir configured with
# -DCMAKE_INSTALL_PREFIX=/usr (scripts/package does both). Runtime dependencies are computed by
# dpkg-shlibdeps from the ELF files; only the one it cannot see (libcurl4) is written here.

set(DTBUS_PACKAGE_MAINTAINER "dtbus maintainers <maintainers@users.noreply.b-seed-e122741e.example>"
    CACHE STRING "Maintainer field of the Debian package")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME dtbus)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT ${DTBUS_PACKAGE_MAINTAINER})
# The package installs where the build was configured to (the libdir, RPATH and dtbus.pc depend on
# it): /usr for a .deb.
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_STRIP_FILES ON)
set(CPACK_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS
    OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)

set(CPACK_DEBIAN_PACKAGE_NAME dtbus)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT) # dtbus_<version>-<release>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_MAINTAINER ${DTBUS_PACKAGE_MAINTAINER})
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Synopsis, then the extended description (lines under 80 columns; "." is an empty line).
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "command-line toolkit for operating MQTT event brokers
dtbus publishes, tails, replays and recovers MQTT messages from scripts and
pipelines: dtbus pub, sub, dlq, replay, token and config, configured by one
brokers.yaml (MQTT 5 and 3.1.1, TLS, OAuth2 client-credentials tokens,
dead-letter queue).
.
This package holds the commands, the libdtbus shared library with its
headers and pkg-config file, man pages, bash/zsh/fish completions and
example configurations.")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# The one dependency dpkg-shlibdeps cannot see: libdtbus opens libcurl.so.4 with dlopen when a
# token provider is used (lib/auth/libcurl.cpp, which needs 7.85 or newer).
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libcurl4 (>= 7.85)")
# libdtbus.so.0: a shlibs file for packages built against it, and the ldconfig trigger Debian
# policy asks for (CPack also calls ldconfig from postinst/postrm: redundant, harmless).
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
file(WRITE ${PROJECT_BINARY_DIR}/deb/triggers "activate-noawait ldconfig\n")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${PROJECT_BINARY_DIR}/deb/triggers)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# Only for building against libdtbus (`pkg-config --cflags --libs dtbus`): see lib/dtbus.pc.in.
set(CPACK_DEBIAN_PACKAGE_SUGGESTS
    "pkg-config, nlohmann-json3-dev, libcli11-dev, libmosquitto-dev, libssl-dev, libyaml-cpp-dev")

# /usr/share/doc/dtbus/copyright, in Debian's machine-readable format (DEP-5). The Apache-2.0 text
# itself is not shipped: Debian has it in /usr/share/common-licenses (base-files). It also carries
# what NOTICE says. Installed by every `cmake --install`, as the licence goes with the files.
file(WRITE ${PROJECT_BINARY_DIR}/deb/copyright
"Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: dtbus
Upstream-Contact: ${DTBUS_PACKAGE_MAINTAINER}

Files: *
Copyright: 2026 The dtbus authors
License: Apache-2.0

License: Apache-2.0
 Licensed under the Apache License, Version 2.0 (the \"License\");
 you may not use this file except in compliance with the License.
 You may obtain a copy of the License at
 .
     http://www.apache.org/licenses/LICENSE-2.0
 .
 Unless required by applicable law or agreed to in writing, software
 distributed under the License is distributed on an \"AS IS\" BASIS,
 WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
 See the License for the specific language governing permissions and
 limitations under the License.
 .
 On Debian systems, the complete text of the Apache License, Version 2.0
 can be found in \"/usr/share/common-licenses/Apache-2.0\".
")
install(FILES ${PROJECT_BINARY_DIR}/deb/copyright DESTINATION ${CMAKE_INSTALL_DOCDIR})

# Only in a /usr install (the .deb):
# - changelog.Debian.gz, which Debian policy (and lintian, as an error) wants in every non-native
#   package. Its date is SOURCE_DATE_EPOCH when set (scripts/package sets it to the commit time) so
#   that the package is reproducible, and gzip -9n leaves out the name and time as for the man pages.
# - lintian overrides for what comes of shipping the library, its headers and the libdtbus.so link
#   in one package named dtbus (rather than libdtbus0 + libdtbus-dev), which lintian itself says to
#   override for a small package holding both; and for a first changelog entry that closes no ITP
#   bug (the package is not uploaded to Debian).
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  string(TIMESTAMP DTBUS_DEB_DATE "%a, %d %b %Y %H:%M:%S +0000" UTC)
  file(WRITE ${PROJECT_BINARY_DIR}/deb/changelog.Debian
"dtbus (${PROJECT_VERSION}-${CPACK_DEBIAN_PACKAGE_RELEASE}) unstable; urgency=medium

  * Package of dtbus ${PROJECT_VERSION}, built by CPack (scripts/package).

 -- ${DTBUS_PACKAGE_MAINTAINER}  ${DTBUS_DEB_DATE}
")
  find_program(GZIP_PROGRAM gzip REQUIRED)
  execute_process(COMMAND ${GZIP_PROGRAM} -9nc ${PROJECT_BINARY_DIR}/deb/changelog.Debian
                  OUTPUT_FILE ${PROJECT_BINARY_DIR}/deb/changelog.Debian.gz COMMAND_ERROR_IS_FATAL ANY)
  install(FILES ${PROJECT_BINARY_DIR}/deb/changelog.Debian.gz DESTINATION ${CMAKE_INSTALL_DOCDIR})

  file(WRITE ${PROJECT_BINARY_DIR}/deb/lintian-overrides
"# One package holds the runtime and the development files (the libdtbus.so link, headers, dtbus.pc).
dtbus: link-to-shared-library-in-wrong-package
dtbus: package-name-doesnt-match-sonames
# Not uploaded to Debian: there is no ITP bug for the first changelog entry to close.
dtbus: initial-upload-closes-no-bugs
")
  install(FILES ${PROJECT_BINARY_DIR}/deb/lintian-overrides
          DESTINATION ${CMAKE_INSTALL_DATADIR}/lintian/overrides RENAME dtbus)
endif()

include(CPack)
