#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Checks that sluicectl(8) and `sluicectl --help` say the same thing: every
# long option, command and reason name of one appears in the other. Needs no
# root. Prints cmocka-style lines for tests/run.sh.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
SLUICECTL=${SL_TEST_SLUICECTL:-$here/../../build/sluicectl}
MAN=$here/../../user/man/sluicectl.8
failed=0

echo "[==========] Running sluicectl help/man page tests"
if [[ ! -x $SLUICECTL || ! -r $MAN ]]; then
	echo "[  SKIPPED ] man: all (sluicectl not built or man page missing)"
	exit 0
fi
help=$("$SLUICECTL" --help)
# The man page without roff escapes, as text to search.
man=$(sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\(dq/"/g' "$MAN")

check_words() { # NAME WORDS-OF-A TEXT-B
	local name=$1 words=$2 text=$3 missing=()
	for w in $words; do
		grep -qF -- "$w" <<<"$text" || missing+=("$w")
	done
	if ((${#missing[@]})); then
		echo "[  FAILED  ] man: $name (missing: ${missing[*]})"
		failed=$((failed + 1))
	else
		echo "[       OK ] man: $name"
	fi
}

help_opts=$(grep -oE -- '--[a-z][a-z0-9-]+' <<<"$help" | sort -u)
man_opts=$(grep -oE -- '--[a-z][a-z0-9-]+' <<<"$man" | sort -u)
check_words "every option in --help is in the man page" "$help_opts" "$man"
check_words "every option in the man page is in --help" "$man_opts" "$help"

help_cmds=$(grep -E '^  sluicectl ' <<<"$help" | awk '{print $2 "_" $3}' | sed 's/_[A-Z[].*//' | sort -u)
man_cmds=$(sed -n '/^\.SH SYNOPSIS/,/^\.SH DESCRIPTION/p' "$MAN" | grep -E '^\.B sluicectl ' | awk '{print $3 "_" $4}' | sed 's/_[A-Z[\\].*//' | sort -u)
if [[ $help_cmds == "$man_cmds" ]]; then
	echo "[       OK ] man: same command list"
else
	echo "[  FAILED  ] man: same command list (help: ${help_cmds//$'\n'/ } / man: ${man_cmds//$'\n'/ })"
	failed=$((failed + 1))
fi

reasons=$(sed -n '/^Reasons:/,/^$/p' <<<"$help" | tail -n +2 | tr -d ',.')
check_words "every reason is documented" "$reasons" "$man"

echo "[==========] 4 test(s) run."
((failed == 0))
