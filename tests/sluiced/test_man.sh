#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Checks that sluiced(8) and `sluiced --help` name the same options, and
# that the man page's signals and fast-path reasons are the daemon's. Needs
# no root. Prints cmocka-style lines for tests/run.sh.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
SLUICED=${SL_TEST_SLUICED:-${BUILD:-$here/../../build}/sluiced}
MAN=$here/../../user/man/sluiced.8
failed=0

echo "[==========] Running sluiced help/man page tests"
if [[ ! -x $SLUICED || ! -r $MAN ]]; then
	echo "[  SKIPPED ] man: all (sluiced not built or man page missing)"
	exit 0
fi
help=$("$SLUICED" --help)
man=$(sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\(dq/"/g' "$MAN")

check_words() { # NAME WORDS TEXT
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
reasons=$(sed -n 's/^[[:space:]]*X(\([a-z]*\),.*/\1/p' "$here/../../user/sluiced/sluiced.h")
check_words "every fast-path reason is documented" "$reasons" "$man"
check_words "signals documented" "SIGTERM SIGHUP" "$man"

echo "[==========] 4 test(s) run."
((failed == 0))
