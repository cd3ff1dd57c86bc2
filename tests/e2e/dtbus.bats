#!/usr/bin/env bats
# SPDX-License-Identifier: Apache-2.0
# The dispatcher, help/version, plugins, completions and man pages.

load helpers/common

setup() {
  dtbus_isolate_env
}

@test "--help lists every command with a summary" {
  run -0 dtbus --help
  for cmd in pub sub dlq replay token config; do
    assert_line --regexp "^  $cmd +[A-Z]"
  done
}

@test "--version prints the project version" {
  run -0 dtbus --version
  assert_output --regexp '^dtbus [0-9]+\.[0-9]+\.[0-9]+$'
  run -0 dtbus-config --version
  assert_output --regexp '^dtbus-config [0-9]+\.[0-9]+\.[0-9]+ \(libmosquitto 2\.'
}

@test "every command has --help and 'dtbus help CMD' shows it" {
  for cmd in pub sub dlq replay token config; do
    run -0 dtbus "$cmd" --help
    assert_output --partial "dtbus-$cmd"
    assert_output --partial "--config"
  done
  run -0 dtbus help config
  assert_output --partial "Validate, show and locate brokers.yaml"
}

@test "unknown command: exit 2 with a did-you-mean" {
  run -2 --separate-stderr dtbus sbu
  [[ $stderr == *"'sbu' is not a dtbus command (did you mean 'sub'?)"* ]]
}

@test "a dtbus-NAME executable on PATH is a plugin, and global options pass through" {
  mkdir -p "$BATS_TEST_TMPDIR/plugins"
  cat > "$BATS_TEST_TMPDIR/plugins/dtbus-hello" <<'SH'
#!/bin/sh
echo "hello $*"
SH
  chmod +x "$BATS_TEST_TMPDIR/plugins/dtbus-hello"
  PATH="$BATS_TEST_TMPDIR/plugins:$PATH" run -0 dtbus -c my.yaml -v hello world
  assert_output "hello -c my.yaml -v world"
  PATH="$BATS_TEST_TMPDIR/plugins:$PATH" run -0 dtbus --help
  assert_output --partial "Plugins"
  assert_output --partial "  hello"
}

@test "a bad flag is a usage error naming the flag" {
  run -2 --separate-stderr dtbus config test --frobnicate
  [[ $stderr == "dtbus config: error: "*"--frobnicate"* ]]
}

@test "completion scripts are generated from the commands and match completions/" {
  for shell in bash zsh fish; do
    run -0 dtbus completion "$shell"
    assert_output --partial "config"
  done
  dtbus completion bash > "$BATS_TEST_TMPDIR/dtbus.bash"
  dtbus completion zsh > "$BATS_TEST_TMPDIR/_dtbus"
  dtbus completion fish > "$BATS_TEST_TMPDIR/dtbus.fish"
  # Regenerate with scripts/gen-completions when flags change.
  diff -u "$DTBUS_SOURCE_DIR/completions/dtbus.bash" "$BATS_TEST_TMPDIR/dtbus.bash"
  diff -u "$DTBUS_SOURCE_DIR/completions/_dtbus" "$BATS_TEST_TMPDIR/_dtbus"
  diff -u "$DTBUS_SOURCE_DIR/completions/dtbus.fish" "$BATS_TEST_TMPDIR/dtbus.fish"
  run -2 dtbus completion tcsh
}

@test "bash completion completes commands, options and option values" {
  source "$DTBUS_SOURCE_DIR/completions/dtbus.bash"
  COMP_WORDS=(dtbus con); COMP_CWORD=1; _dtbus
  [[ " ${COMPREPLY[*]} " == *" config "* ]]
  COMP_WORDS=(dtbus config te); COMP_CWORD=2; _dtbus
  [[ " ${COMPREPLY[*]} " == *" test "* ]]
  COMP_WORDS=(dtbus config test --str); COMP_CWORD=3; _dtbus
  [[ " ${COMPREPLY[*]} " == *" --strict "* ]]
  COMP_WORDS=(dtbus config -o ""); COMP_CWORD=3; _dtbus
  [[ " ${COMPREPLY[*]} " == *" json "* ]]
}

@test "man pages render without warnings" {
  command -v man >/dev/null || skip "man not installed"
  for page in "$DTBUS_SOURCE_DIR"/man/*.[15] "$DTBUS_MAN_DIR"/dtbus-*.1*; do
    run -0 --separate-stderr man --warnings -l "$page"
    [[ -z $stderr ]] || fail "$page: $stderr"
  done
}
