#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Checks that sluiced(8) and `sluiced --help` name the same options, and
# that the man page's signals and fast-path reasons are the daemon's. Needs
# no root.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/man.sh"

man_begin sluiced "${SL_TEST_SLUICED:-${BUILD:-$here/../../build}/sluiced}" \
	"$here/../../user/man/sluiced.8"
check_options
reasons=$(sed -n 's/^[[:space:]]*X(\([a-z]*\),.*/\1/p' "$here/../../user/sluiced/sluiced.h")
check_words "every fast-path reason is documented" "$reasons" "$man"
check_words "signals documented" "SIGTERM SIGHUP" "$man"
man_end 4
