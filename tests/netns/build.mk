# SPDX-License-Identifier: MIT
# Namespace tests: real hosts in network namespaces, real SYNs and sockets.
# They need root, bpffs and the tools scripts/deps.sh installs, and skip
# with the reason when something is missing.
TEST_PROGS += tests/netns/test_static.sh
TEST_PROGS += tests/netns/test_sluiced.sh
TEST_PROGS += tests/netns/test_sluiced_options.sh
TEST_PROGS += tests/netns/test_fleet.sh
TEST_PROGS += tests/netns/test_sluiced_claim.sh
TEST_PROGS += tests/netns/test_privilege.sh
TEST_PROGS += tests/netns/test_guard.sh
TEST_PROGS += tests/netns/test_src_conns.sh
