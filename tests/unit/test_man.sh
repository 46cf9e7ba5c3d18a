#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Checks that sluicectl(8) and `sluicectl --help` say the same thing: every
# long option, command and reason name of one appears in the other. Needs no
# root.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/man.sh"
MAN=$here/../../user/man/sluicectl.8

man_begin sluicectl "${SL_TEST_SLUICECTL:-$here/../../build/sluicectl}" "$MAN"
check_options

help_cmds=$(grep -E '^  sluicectl ' <<<"$help" | awk '{print $2 "_" $3}' | sed 's/_[A-Z[].*//' | sort -u)
man_cmds=$(sed -n '/^\.SH SYNOPSIS/,/^\.SH DESCRIPTION/p' "$MAN" | grep -E '^\.B sluicectl ' | awk '{print $3 "_" $4}' | sed 's/_[A-Z[\\].*//' | sort -u)
if [[ $help_cmds == "$man_cmds" ]]; then
	echo "[       OK ] man: same command list"
else
	echo "[  FAILED  ] man: same command list (help: ${help_cmds//$'\n'/ } / man: ${man_cmds//$'\n'/ })"
	failed=$((failed + 1))
fi

# The reasons are the indented lines right under "Reasons:" (what follows
# them, the exit status, is not indented).
reasons=$(sed -n '/^Reasons:/,/^[^ ]/{/^  /p}' <<<"$help" | tr -d ',.')
check_words "every reason is documented" "$reasons" "$man"
man_end 4
