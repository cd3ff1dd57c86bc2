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
    "pkg-config, nlohmann-json3-dev, libcli11-dev, libmosquitto-dev, libyaml-cpp-dev, libspdlog-dev")

include(CPack)
