#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# The installed layout. With a build tree under test, `cmake --install` into a private prefix; with
# an installed tree (DTBUS_BIN_DIR=/usr/bin, or the .deb extracted by scripts/package-test), that
# tree. Fast: nothing is built and nothing is installed on the machine (scripts/package-test builds
# and installs the .deb).

load helpers/common

setup_file() {
  dtbus_isolate_env
  local tree=$DTBUS_BIN_DIR/.. lib
  if [[ -f $tree/CMakeCache.txt ]]; then
    PREFIX=$BATS_FILE_TMPDIR/prefix
    cmake --install "$tree" --prefix "$PREFIX" >"$BATS_FILE_TMPDIR/install.log"
  else
    PREFIX=$(cd "$tree" && pwd)
  fi
  LIBDIR=
  for lib in "$PREFIX"/lib/libdtbus.so.0 "$PREFIX"/lib/*/libdtbus.so.0; do
    [[ -e $lib ]] && LIBDIR=${lib%/*}
  done
  VERSION=$(sed -n 's/^project(dtbus VERSION \([0-9.]*\).*/\1/p' "$DTBUS_SOURCE_DIR/CMakeLists.txt")
  # The built-in commands are tools/<cmd>.cpp; those with their own main() are own executables.
  local tool name
  COMMANDS="" OWN_EXECUTABLES=""
  for tool in "$DTBUS_SOURCE_DIR"/tools/*.cpp; do
    name=${tool##*/}
    name=${name%.cpp}
    [[ $name == dtbus ]] && continue
    COMMANDS+="$name "
    grep -q '^int main(' "$tool" && OWN_EXECUTABLES+="$name "
  done
  export PREFIX LIBDIR VERSION COMMANDS OWN_EXECUTABLES
}

teardown_file() {
  cleanup_all
}

setup() {
  dtbus_isolate_env
  [[ -n $LIBDIR ]] || fail "no libdtbus.so.0 under $PREFIX/lib"
}

teardown() {
  cleanup_all
}

@test "binaries, the versioned library (SONAME) and the public headers are installed" {
  local cmd
  [[ -f $PREFIX/bin/dtbus && -x $PREFIX/bin/dtbus ]] || fail "missing $PREFIX/bin/dtbus"
  for cmd in $COMMANDS; do
    if [[ " $OWN_EXECUTABLES" == *" $cmd "* ]]; then
      [[ -f $PREFIX/bin/dtbus-$cmd && ! -L $PREFIX/bin/dtbus-$cmd && -x $PREFIX/bin/dtbus-$cmd ]] ||
        fail "missing $PREFIX/bin/dtbus-$cmd"
    else
      assert_equal "$(readlink "$PREFIX/bin/dtbus-$cmd")" dtbus
    fi
  done
  [[ -f $LIBDIR/libdtbus.so.$VERSION && ! -L $LIBDIR/libdtbus.so.$VERSION ]]
  assert_equal "$(readlink "$LIBDIR/libdtbus.so.0")" "libdtbus.so.$VERSION"
  assert_equal "$(readlink "$LIBDIR/libdtbus.so")" "libdtbus.so.0"
  run -0 readelf -d "$LIBDIR/libdtbus.so.$VERSION"
  assert_output --partial "Library soname: [libdtbus.so.0]"
  local header
  while read -r header; do
    cmp "$DTBUS_SOURCE_DIR/lib/$header" "$PREFIX/include/dtbus/$header"
  done < <(grep -v '^#' "$DTBUS_SOURCE_DIR/lib/public-headers.txt")
  # Only the curated API: no command-line or command headers.
  [[ ! -e $PREFIX/include/dtbus/cli && ! -e $PREFIX/include/dtbus/commands ]]
  grep -qF "version = \"$VERSION\";" "$PREFIX/include/dtbus/version.hpp"
}

@test "installed executables carry libdtbus and need no RPATH; both spellings of a command work" {
  local program cmd
  for program in "$PREFIX"/bin/dtbus "$PREFIX"/bin/dtbus-*; do
    [[ -L $program ]] && continue
    # libdtbus, yaml-cpp and the C++ runtime are linked in (start-up time, README "Performance").
    run -0 readelf -d "$program"
    refute_output --partial "libdtbus"
    # (A sanitizer build keeps the shared C++ runtime: the sanitizer's runtime must see it.)
    [[ $output == *libasan* ]] || refute_output --partial "libstdc++"
    refute_output --regexp '\((RPATH|RUNPATH)\)'
  done
  # No dtbus-* on PATH: `dtbus <cmd>` runs a built-in in-process, an own executable beside itself.
  for cmd in $COMMANDS; do
    run -0 env -u LD_LIBRARY_PATH PATH=/nonexistent "$PREFIX/bin/dtbus" "$cmd" --help
    assert_output --partial "dtbus-$cmd"
    run -0 env -u LD_LIBRARY_PATH PATH=/nonexistent "$PREFIX/bin/dtbus-$cmd" --version
    assert_output --partial "dtbus-$cmd $VERSION"
  done
  run -0 "$PREFIX/bin/dtbus" --version
  assert_output "dtbus $VERSION"
}

@test "man pages, completions and config examples are where man and the shells look for them" {
  local page example
  local cmd pages=(man1/dtbus.1 man5/dtbus-brokers.yaml.5)
  for cmd in $COMMANDS; do pages+=("man1/dtbus-$cmd.1"); done
  for page in "${pages[@]}"; do
    gzip -t "$PREFIX/share/man/$page.gz" || fail "missing or corrupt $PREFIX/share/man/$page.gz"
  done
  cmp "$DTBUS_SOURCE_DIR/man/dtbus.1" <(gzip -dc "$PREFIX/share/man/man1/dtbus.1.gz")
  if command -v man >/dev/null; then
    run -0 env MANPATH="$PREFIX/share/man" man -w dtbus-pub
    assert_output "$PREFIX/share/man/man1/dtbus-pub.1.gz"
    run -0 env MANPATH="$PREFIX/share/man" man -w 5 dtbus-brokers.yaml
    assert_output "$PREFIX/share/man/man5/dtbus-brokers.yaml.5.gz"
  fi
  cmp "$DTBUS_SOURCE_DIR/completions/dtbus.bash" "$PREFIX/share/bash-completion/completions/dtbus"
  cmp "$DTBUS_SOURCE_DIR/completions/_dtbus" "$PREFIX/share/zsh/vendor-completions/_dtbus"
  cmp "$DTBUS_SOURCE_DIR/completions/dtbus.fish" "$PREFIX/share/fish/vendor_completions.d/dtbus.fish"
  for example in "$DTBUS_SOURCE_DIR"/config-examples/*.yaml; do
    cmp "$example" "$PREFIX/share/doc/dtbus/examples/${example##*/}"
  done
}

@test "dtbus.pc builds a program against the installed libdtbus" {
  local pc=(env PKG_CONFIG_PATH="$LIBDIR/pkgconfig" pkg-config)
  run -0 "${pc[@]}" --modversion dtbus
  assert_output "$VERSION"
  # --define-variable relocates a staged tree (a private prefix, the extracted .deb); a no-op in
  # the prefix it was built for.
  run -0 "${pc[@]}" --define-variable=prefix="$PREFIX" --cflags --libs dtbus
  local flags=$output
  cat >version.cpp <<'CPP'
#include <dtbus/core/topic.hpp>
#include <dtbus/mqtt/connection.hpp>
#include <dtbus/target/target.hpp>
#include <dtbus/version.hpp>

#include <iostream>

int main() {
  // topic::matches is in libdtbus: the program must really link it.
  if (!dtbus::topic::matches("a/+", "a/b")) return 1;
  // The curated API is whole: a connection's settings from the same resolution the tools use.
  dtbus::GlobalOptions options;
  options.host = "127.0.0.1";
  if (dtbus::target::resolve(options, "app").connection.describe() != "127.0.0.1:1883") return 1;
  std::cout << "dtbus " << dtbus::version << "\n";
}
CPP
  # shellcheck disable=SC2086
  run -0 c++ -std=c++20 version.cpp -o version $flags
  run -0 env LD_LIBRARY_PATH="$LIBDIR" ./version
  assert_output "dtbus $VERSION"
  run -0 readelf -d version
  assert_output --partial "Shared library: [libdtbus.so.0]"
}
