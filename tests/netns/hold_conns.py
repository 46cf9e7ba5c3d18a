#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""A client that opens TCP connections and holds them idle, as a slowloris
client does: the client host's side of tests/netns/test_src_conns.sh.

    hold_conns.py SRC DST PORT COUNT TIMEOUT

Makes COUNT attempts from address SRC to DST:PORT. One after the other,
each connect() waiting at most TIMEOUT seconds (a refusal by RST returns
at once, a dropped SYN takes the timeout); after five refusals in a row
the source is at its limit, and the remaining attempts go out in batches
of 50 at once, so that silent drops cost TIMEOUT a batch, not an attempt.
Prints "opened N refused M", then holds the
connections until a line (or EOF) on stdin: "rst" closes them with a RST
(SO_LINGER 0), "mixed" every other one with a RST and the rest with a FIN,
anything else with a FIN. Prints "closed" and exits.
"""
import errno
import select
import socket
import struct
import sys
import time

BATCH = 50
IN_A_ROW = 5


def new_socket(src):
    fam = socket.AF_INET6 if ":" in src else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.bind((src, 0))
    return s


def attempt_batch(src, dst, port, n, timeout):
    """n non-blocking connects at once; returns the connected sockets."""
    pending, opened = {}, []
    for _ in range(n):
        s = new_socket(src)
        s.setblocking(False)
        err = s.connect_ex((dst, port))
        if err in (0, errno.EINPROGRESS):
            pending[s.fileno()] = s
        else:
            s.close()
    poller = select.poll()
    for fd in pending:
        poller.register(fd, select.POLLOUT)
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for fd, _ in poller.poll(max(1, int((deadline - time.monotonic()) * 1000))):
            s = pending.pop(fd, None)
            if s is None:
                continue
            poller.unregister(fd)
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                opened.append(s)
            else:
                s.close()
    for s in pending.values():
        s.close()
    return opened


def attempt_one(src, dst, port, timeout):
    s = new_socket(src)
    s.settimeout(timeout)
    try:
        s.connect((dst, port))
        return s
    except OSError:
        s.close()
        return None


def main():
    src, dst, port, count, timeout = (sys.argv[1], sys.argv[2], int(sys.argv[3]),
                                      int(sys.argv[4]), float(sys.argv[5]))
    held, tries, refused_in_a_row = [], 0, 0
    while tries < count and refused_in_a_row < IN_A_ROW:
        s = attempt_one(src, dst, port, timeout)
        tries += 1
        if s:
            held.append(s)
            refused_in_a_row = 0
        else:
            refused_in_a_row += 1
    while tries < count:
        n = min(BATCH, count - tries)
        held += attempt_batch(src, dst, port, n, timeout)
        tries += n
    print(f"opened {len(held)} refused {count - len(held)}", flush=True)
    how = sys.stdin.readline().strip()
    for i, s in enumerate(held):
        if how == "rst" or (how == "mixed" and i % 2 == 0):
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    print("closed", flush=True)


if __name__ == "__main__":
    main()
