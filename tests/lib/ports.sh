# SPDX-License-Identifier: MIT
# Loopback ports for the daemon tests that run on the host's loopback
# (tests/sluiced/test_{server,fastpath,proxy}.sh). Sourced.
#
#   free_ports N    prints N ports free to bind on 127.0.0.1 now, chosen at
#                   random below the kernel's ephemeral range
#
# Below that range, because a port the kernel hands out for bind(0) is an
# ephemeral one: on a machine busy with loopback clients (load generators
# opening thousands of connections a second) one of them takes it as its
# source port before the daemon binds it. At random, because a port from
# the PID collides with another test's, one PID apart.

free_ports() {
	python3 - "$1" <<'EOF'
import random, socket, sys
n = int(sys.argv[1])
lo = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
ports = []
for port in random.sample(range(10000, lo), lo - 10000):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        ports.append(port)
    except OSError:
        continue
    finally:
        s.close()
    if len(ports) == n:
        break
print(*ports)
EOF
}
