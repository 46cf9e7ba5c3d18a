# SPDX-License-Identifier: MIT
# What the help/man page checks share (tests/unit/test_man.sh for
# sluicectl, tests/sluiced/test_man.sh for sluiced): the man page as plain
# text, and cmocka-style result lines for tests/run.sh. Sourced.
#
#   man_begin NAME BINARY MANPAGE  header; fails the run when either is
#                                  missing; sets $help and $man
#   check_words NAME WORDS TEXT    OK when every word is in TEXT, as a
#                                  whole word; fails on an empty list
#   check_options                  the long options of --help and of the
#                                  man page are the same
#   man_end N                      footer for N checks; the exit status

failed=0

man_begin() {
	local name=$1 bin=$2 page=$3
	echo "[==========] Running $name help/man page tests"
	if [[ ! -x $bin || ! -r $page ]]; then
		echo "[  FAILED  ] man: $name not built ($bin) or its man page missing ($page)"
		exit 1
	fi
	help=$("$bin" --help)
	# The man page without roff escapes, as text to search.
	man=$(sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\(dq/"/g' "$page")
}

# A word matches whole: --per-source is not found in --per-source-burst.
# An empty list fails (the extraction found nothing to check).
check_words() {
	local name=$1 words=$2 text=$3 missing=() w re
	for w in $words; do
		re=$(sed 's/[][\\.*^$+?(){}|/]/\\&/g' <<<"$w")
		grep -qE -- "(^|[^A-Za-z0-9_-])$re([^A-Za-z0-9_-]|\$)" <<<"$text" || missing+=("$w")
	done
	if [[ -z ${words//[[:space:]]/} ]]; then
		echo "[  FAILED  ] man: $name (the list of words to check is empty)"
		failed=$((failed + 1))
	elif ((${#missing[@]})); then
		echo "[  FAILED  ] man: $name (missing: ${missing[*]})"
		failed=$((failed + 1))
	else
		echo "[       OK ] man: $name"
	fi
}

check_options() {
	local help_opts man_opts
	help_opts=$(grep -oE -- '--[a-z][a-z0-9-]+' <<<"$help" | sort -u)
	man_opts=$(grep -oE -- '--[a-z][a-z0-9-]+' <<<"$man" | sort -u)
	check_words "every option in --help is in the man page" "$help_opts" "$man"
	check_words "every option in the man page is in --help" "$man_opts" "$help"
}

man_end() {
	echo "[==========] $1 test(s) run."
	((failed == 0))
}
