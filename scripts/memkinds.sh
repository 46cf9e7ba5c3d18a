#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# memkinds.sh PID: a process's resident memory by kind, from the page
# tables (/proc/PID/smaps), so that a growing RSS names what grows.
# Prints one tab-separated line, KiB:
#
#   heap  stacks  arenas  anon  file  stack_by_thread
#
#   heap     the main arena ([heap], brk)
#   stacks   every thread's stack: the main thread's [stack], and the
#            mapping each other thread's stack pointer is in (from
#            /proc/PID/task/TID/syscall, root; the stack of a thread
#            running at the time is found by the guard page glibc puts
#            below it, and named after it if it is the only one running)
#   arenas   glibc's per-thread arenas: 64 MiB-aligned reservations
#            (HEAP_MAX_SIZE) whose touched start is read-write and the
#            rest PROT_NONE
#   anon     every other anonymous mapping (malloc's mmap'd chunks, rings
#            and tables allocated large, BPF maps the process mmaps)
#   file     file-backed (code, libraries) and the kernel's ([vdso] ...)
#   stack_by_thread  name=KiB for each stack, name from the thread's comm
#            (main for the main thread, a thread's own name if it has one)
#
# Rss in smaps is counted exactly from the page tables, page by page.
set -uo pipefail
pid=${1:?usage: memkinds.sh PID}
[[ -r /proc/$pid/smaps ]] || { echo "memkinds: no process $pid" >&2; exit 2; }

# "SP NAME" per thread: the stack pointer of a thread blocked in a system
# call is the 8th field of its syscall file ("-1 SP PC" outside one,
# "running" while it runs: then "- NAME").
sps=$(for t in /proc/"$pid"/task/*; do
	read -r -a f <"$t/syscall" 2>/dev/null || continue
	((${#f[@]} == 9)) && sp=${f[7]} || sp=${f[1]:-}
	[[ $sp == 0x* ]] || sp=-
	[[ ${t##*/} == "$pid" ]] && name=main || name=$(tr ' ' _ <"$t/comm")
	echo "$sp $name"
done)

awk -v sps="$sps" '
	function hex(s,   i, v) {	# mawk has no strtonum
		s = tolower(s); sub(/^0x/, "", s); v = 0
		for (i = 1; i <= length(s); i++)
			v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
		return v
	}
	BEGIN {
		n = split(sps, l, "\n")
		running = "thread"
		for (i = 1; i <= n; i++)
			if (split(l[i], p, " ") != 2)
				continue
			else if (p[1] != "-") { sp[i] = hex(p[1]); who[i] = p[2] }
			else if (p[2] != "main")
				running = nrun++ ? "thread" : p[2]
		ARENA = 64 * 1024 * 1024
	}
	# a mapping: "start-end perms offset dev inode [path]"
	$1 ~ /^[0-9a-f]+-[0-9a-f]+$/ {
		split($1, a, "-")
		m++; lo[m] = hex(a[1]); hi[m] = hex(a[2]); perm[m] = $2; path[m] = $6
		next
	}
	$1 == "Rss:" { rss[m] = $2 }
	END {
		for (i = 1; i <= m; i++) {
			kind = ""
			if (path[i] == "[heap]") kind = "heap"
			else if (path[i] == "[stack]") { kind = "stacks"; name = "main" }
			else if (path[i] != "") kind = "file"
			else {
				for (j in sp)
					if (sp[j] >= lo[i] && sp[j] < hi[i]) { kind = "stacks"; name = who[j] }
				if (kind == "" && perm[i] ~ /^rw/ && lo[i] % ARENA == 0 &&
				    i < m && lo[i + 1] == hi[i] && perm[i + 1] ~ /^---/ && path[i + 1] == "")
					kind = "arenas"
				else if (kind == "" && perm[i] ~ /^rw/ && i > 1 && hi[i - 1] == lo[i] &&
					 perm[i - 1] ~ /^---/ && path[i - 1] == "") {
					kind = "stacks"; name = running
				} else if (kind == "")
					kind = "anon"
			}
			kib[kind] += rss[i]
			if (kind == "stacks")
				by = by (by == "" ? "" : ",") name "=" rss[i]
		}
		printf "%d\t%d\t%d\t%d\t%d\t%s\n", kib["heap"], kib["stacks"], kib["arenas"],
			kib["anon"], kib["file"], by
	}' "/proc/$pid/smaps"
