#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `make install` into a DESTDIR, checked as a user of the installed files
# would: every file where the README says, a program built against the
# installed pool through its pkg-config file and run on the installed
# shared library, the library exporting exactly the API of its version
# script, and the systemd unit passing `systemd-analyze verify` (which
# needs no running systemd). Needs no root. Prints cmocka-style lines.
set -uo pipefail
export LC_ALL=C	# one sort order for sort and comm

here=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$here/../.." && pwd)
BUILD=${BUILD:-$TOP/build}
PREFIX=/usr
DEST=$(mktemp -d /tmp/sluice-install.XXXXXX)
trap 'rm -rf "$DEST"' EXIT
failed=0 n=0
ok() { echo "[       OK ] install: $1"; n=$((n + 1)); }
bad() { echo "[  FAILED  ] install: $1: $2"; failed=$((failed + 1)); n=$((n + 1)); }
expect() { if [[ "$3" == "$4" ]]; then ok "$1"; else bad "$1" "$2: got '$3', expected '$4'"; fi; }

echo "[==========] Running make install tests"
missing=()
for c in make pkg-config nm "${CC:-cc}"; do
	command -v "$c" >/dev/null || missing+=("$c")
done
if ((${#missing[@]})); then
	echo "[  SKIPPED ] install: all: needs ${missing[*]} (make deps installs them) (7 cases)"
	exit 0
fi

# The same build (and sanitizer) as the run: nothing is rebuilt.
if ! make -C "$TOP" --no-print-directory BUILD="$BUILD" ${SL_TEST_SAN:+SAN=$SL_TEST_SAN} \
	DESTDIR="$DEST" PREFIX=$PREFIX install >"$DEST.log" 2>&1; then
	bad "make install DESTDIR" "failed: $(tail -n 5 "$DEST.log")"
	rm -f "$DEST.log"
	exit 1
fi
rm -f "$DEST.log"
files=$(cd "$DEST" && find . \( -type f -o -type l \) | sort | tr '\n' ' ')
expect "make install DESTDIR: every file in its place, nothing else" "files" "$files" \
"./usr/include/sluice/pool.h ./usr/lib/libsluice-pool.a ./usr/lib/libsluice-pool.so \
./usr/lib/libsluice-pool.so.0 ./usr/lib/libsluice-pool.so.0.1.0 \
./usr/lib/pkgconfig/sluice-pool.pc ./usr/lib/systemd/system/sluiced.service \
./usr/sbin/sluicectl ./usr/sbin/sluiced ./usr/share/man/man8/sluicectl.8 \
./usr/share/man/man8/sluiced.8 "

# A program of the pool's users, built with what pkg-config says (the
# sysroot maps the .pc file's /usr to the DESTDIR) and run on the
# installed shared library: 1000 tasks, each counted once.
export PKG_CONFIG_PATH=$DEST$PREFIX/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$DEST
cat >"$DEST/user.c" <<'EOF'
#include <stdatomic.h>
#include <stdio.h>
#include <sluice/pool.h>

static atomic_int done;

static void task(void *arg)
{
	(void)arg;
	atomic_fetch_add(&done, 1);
}

int main(void)
{
	struct pool *p;
	int i;

	if (pool_create(&p, NULL))
		return 1;
	for (i = 0; i < 1000; i++)
		if (pool_submit_wait(p, task, NULL))
			return 2;
	pool_destroy(p);	/* drains */
	printf("%d\n", atomic_load(&done));
	return 0;
}
EOF
# A sanitizer build's library needs its runtime in the program too.
san=${SL_TEST_SAN:+-fsanitize=$SL_TEST_SAN}
if out=$(${CC:-cc} $san "$DEST/user.c" $(pkg-config --cflags --libs sluice-pool) -pthread \
	-o "$DEST/user" 2>&1); then
	ok "a program builds against the installed pool with pkg-config"
else
	bad "a program builds against the installed pool with pkg-config" "$out"
fi
expect "it runs on the installed shared library" "tasks run" \
	"$(LD_LIBRARY_PATH=$DEST$PREFIX/lib "$DEST/user" 2>&1)" 1000
expect "it links the library by its soname" "NEEDED" \
	"$(readelf -d "$DEST/user" 2>/dev/null | grep -o 'libsluice-pool[^]]*')" libsluice-pool.so.0

# The shared library exports the version script's list, no more, no less.
want=$(sed -n '/global:/,/local:/p' "$TOP/pool/libsluice-pool.map" |
	grep -oE '^[[:space:]]*[a-z_][a-z0-9_]*;' | tr -d ' \t;' | sort | tr '\n' ' ')
have=$(nm -D --defined-only "$DEST$PREFIX/lib/libsluice-pool.so.0.1.0" |
	awk '$2 ~ /^[TDBRVWi]$/ { sub(/@.*/, "", $3); print $3 }' | sort -u | tr '\n' ' ')
if [[ -n $want && $have == "$want" ]]; then
	ok "the shared library exports exactly pool/libsluice-pool.map"
else
	bad "the shared library exports exactly pool/libsluice-pool.map" \
		"extra: $(comm -13 <(tr ' ' '\n' <<<"$want") <(tr ' ' '\n' <<<"$have") | tr '\n' ' ')\
missing: $(comm -23 <(tr ' ' '\n' <<<"$want") <(tr ' ' '\n' <<<"$have") | tr '\n' ' ')"
fi

# The unit as installed, with its ExecStart pointed into the DESTDIR (the
# one change) so verify finds the program, and the man pages it names.
unit=$DEST$PREFIX/lib/systemd/system/sluiced.service
expect "the unit starts the installed daemon" "ExecStart" \
	"$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$unit")" "$PREFIX/sbin/sluiced"
if ! command -v systemd-analyze >/dev/null; then
	echo "[  SKIPPED ] install: systemd-analyze verify: needs systemd-analyze (make deps installs systemd)"
else
	mkdir -p "$DEST/verify"
	sed "s|^ExecStart=$PREFIX/sbin/|ExecStart=$DEST$PREFIX/sbin/|" "$unit" >"$DEST/verify/sluiced.service"
	# A value it cannot parse is only a warning: any output fails too.
	out=$(MANPATH=$DEST$PREFIX/share/man systemd-analyze verify "$DEST/verify/sluiced.service" 2>&1)
	rc=$?
	expect "systemd-analyze verify of the unit" "status and output" "$rc ${out:-quiet}" "0 quiet"
fi

echo "[==========] $n test(s) run."
((failed == 0))
