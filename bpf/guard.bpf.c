// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Guard mode's load signal: how long a guarded TCP service takes to answer
 * the requests that reach its sockets, and how much of that they waited
 * unread (include/sluice/guard_abi.h defines both and the maps). Four BTF
 * tracepoints, because this kernel refuses fentry/fexit and has no
 * kprobes, and because tracepoints are stable where production kernels
 * forbid kprobes:
 *
 *   guard_state  inet_sock_set_state: connections established and closed
 *                on a guarded port; a close with a request unanswered;
 *                the connections the service holds (sl_held) counted up
 *                at establishment, down at a close unanswered
 *   guard_ready  sk_data_ready: a request arrives on an established socket
 *                with none in progress: its sojourn starts
 *   guard_recv   tcp_rcv_space_adjust: the service's first read of it
 *   guard_send   sock_send_length: its first write after: the sojourn
 *                ends and goes into the guard's per-CPU histograms; a
 *                connection's first answer takes it off sl_held
 *
 * The read is tcp_rcv_space_adjust, not sock_recv_length: TCP runs it
 * when a read takes data from the socket (recvmsg, and splice's
 * tcp_read_sock, which sock_recv_length does not see), while
 * sock_recv_length fires for every read of every socket of the machine,
 * UDP and Unix ones too, and for the empty read (EAGAIN) a Go or nginx
 * server makes behind each request: one tracepoint run fewer per
 * keep-alive request on the service's core (measured: 1.0 a request
 * where sock_recv_length fired 2.0 for the Go service).
 *
 * The per-socket state is SK_STORAGE (freed with the socket: no close to
 * catch, no table to age). sk_data_ready and sock_send_length fire for
 * every socket of the machine, tcp_rcv_space_adjust for every TCP read
 * with data, and a keep-alive service at full speed fires them ~100k
 * times a second, so each program leaves as early as it can, cheapest
 * test first: the return value, then the local port (a bit in one cache
 * line, then an array: inlined loads), then
 * the socket's storage (a cached pointer), which only sockets that
 * guard_ready vetted (family, protocol, network namespace: tests in other
 * namespaces use the same port) have. At most one clock read per event,
 * and only for a request that is measured. A request that is not measured
 * writes nothing to its socket's storage: guard_ready runs in the softirq
 * of the CPU the packet came in on, guard_recv and guard_send on the
 * service's, and a line written on one and read on the other moves
 * between their caches at each event.
 *
 * guard_recv and guard_send act only on a measured request, a few in a
 * hundred of a keep-alive service's, yet reaching the storage costs three
 * dependent loads (sk_bpf_storage, in a line of the socket nothing else
 * on the read path touches; the storage's cache slot; the element), cold
 * at the read: 40-50 ns of the service's CPU a request. So in front of it,
 * guard_busy: a count of the measured requests in progress per slot, the
 * slot a hash of the peer's address and port (in the socket's first line,
 * which the port test has just read). A slot at 0 says that no socket
 * hashed to it has a measured request in progress. The count is exact:
 * guard_ready adds one before it starts a measure, and whoever ends it
 * (the answer, or the close: they may race) takes since_ns with an
 * exchange, and only the one that got it nonzero takes one off, from the
 * slot kept in the socket. A count is never taken below what is in
 * progress (a request skipped for it would stay in progress for ever); at
 * worst one stays up (a close not seen): the lookups it lets through.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <sluice/abi.h>
#include <sluice/guard_abi.h>
#include "sock.bpf.h"

/* The daemon's network namespace (inode of /proc/self/ns/net), set before load. */
const volatile __u32 guard_netns = 0;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u32);
} guard_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct sl_guard_sk);
} guard_sk SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SL_GUARD_MAX);
	__type(key, __u32);
	__type(value, struct sl_guard_stats);
} guard_stats SEC(".maps");

/* Per CPU, per guard: keep-alive arrivals seen (the sampling's count). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SL_GUARD_MAX);
	__type(key, __u32);
	__type(value, __u32);
} guard_seq SEC(".maps");

/* The data plane's sl_held (abi.h): the loader reuses its pin, so that the
 * data plane reads what is counted here. Without pins (nothing attached)
 * this is the object's own, and guard_slot stays 0: nothing is counted. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SL_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct sl_held);
} sl_held SEC(".maps");

/* Each guard's slot in the data plane (guard_abi.h); 0: not counted. */
__u32 guard_slot[SL_GUARD_MAX];

/* In front of guard_ports, one cache line of bits, SL_GUARD_PORT_BIT set
 * by user space for each guarded port (guard_abi.h): an event of another
 * socket, nearly all of the machine's, is turned away by a load from a
 * line that every event touches, instead of a load from the 256 KB array,
 * whose lines for the ports of the machine's other sockets other work
 * evicts. */
__u64 guard_port_bits[SL_GUARD_PORT_BITS / 64];

/* Measured requests in progress, per busy_slot() (see the top). */
__u32 guard_busy[SL_GUARD_BUSY_SLOTS];

/* May sk's local port be guarded? No: its bit is 0. */
static __always_inline int port_bit(const struct sock *sk)
{
	__u32 port = sk->__sk_common.skc_num;

	return (guard_port_bits[SL_GUARD_PORT_WORD(port)] & SL_GUARD_PORT_BIT(port)) != 0;
}

/* The guard_ports value of sk's local port (0: not guarded). */
static __always_inline __u32 port_of(const struct sock *sk)
{
	__u32 port = sk->__sk_common.skc_num;
	__u32 *v;

	if (!port_bit(sk))
		return 0;
	v = bpf_map_lookup_elem(&guard_ports, &port);
	return v ? *v : 0;
}

/* sk's slot in guard_busy: the peer's address and port, which stay the
 * same for the socket's life (the local port is 0 by its close). */
static __always_inline __u32 busy_slot(const struct sock *sk)
{
	__u32 h = sk->__sk_common.skc_daddr ^ sk->__sk_common.skc_dport;

	return (h * 0x9e3779b1u) >> (32 - SL_GUARD_BUSY_ORDER);
}

/* May sk have a measured request in progress? No: a guard_busy slot at 0. */
static __always_inline int maybe_busy(const struct sock *sk)
{
	if (!port_bit(sk))
		return 0;
	return guard_busy[busy_slot(sk) & (SL_GUARD_BUSY_SLOTS - 1)] != 0;
}

/* End s's measured request, if one is in progress and no one else ended
 * it; returns its start (0: none). */
static __always_inline __u64 busy_end(struct sl_guard_sk *s)
{
	__u64 since = __sync_lock_test_and_set(&s->since_ns, 0);

	if (since)
		__sync_fetch_and_add(&guard_busy[s->busy_slot & (SL_GUARD_BUSY_SLOTS - 1)], -1);
	return since;
}

/* Is sk a TCP socket of our namespace? Only asked once the port matched. */
static __always_inline int ours(const struct sock *sk)
{
	unsigned short family = sk->__sk_common.skc_family;

	if ((family != SL_AF_INET && family != SL_AF_INET6) || sk->sk_protocol != SL_IPPROTO_TCP)
		return 0;
	return sl_sock_netns(sk) == guard_netns;
}

static __always_inline struct sl_guard_stats *stats_of(__u32 guard)
{
	return bpf_map_lookup_elem(&guard_stats, &guard);
}

/* sk's storage if it has one; never creates it. */
static __always_inline struct sl_guard_sk *sk_state(const struct sock *sk)
{
	return bpf_sk_storage_get(&guard_sk, (void *)sk, 0, 0);
}

/*
 * Count a connection the service now holds: once per socket, in the slot
 * its guard has now, kept in the socket so that it comes off that entry.
 */
static __always_inline void held_add(const struct sock *sk, __u32 idx)
{
	struct sl_guard_sk *s;
	struct sl_held *h;
	__u32 slot;

	if (idx >= SL_GUARD_MAX)
		return;
	slot = guard_slot[idx];
	if (!slot)
		return;
	h = bpf_map_lookup_elem(&sl_held, &slot);
	s = bpf_sk_storage_get(&guard_sk, (void *)sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!h || !s || s->held_slot)
		return;
	s->held_slot = slot;
	__sync_fetch_and_add(&h->held, 1);
}

/*
 * Take the socket off sl_held, once: its first answer (the service's CPU)
 * and its close (any CPU) may race, and only the one that clears
 * held_slot takes it off. A decrement must not be lost (a held connection
 * kept forever would refuse for ever): fetch-and-add; one that finds 0 (a
 * count zeroed since, abi.h) puts it back, so it never stays below 0.
 */
static __always_inline void held_release(struct sl_guard_sk *s)
{
	__u32 slot = s->held_slot;
	struct sl_held *h;

	if (!slot || __sync_val_compare_and_swap(&s->held_slot, slot, 0) != slot)
		return;
	h = bpf_map_lookup_elem(&sl_held, &slot);
	if (h && __sync_fetch_and_add(&h->held, -1) == 0)
		__sync_fetch_and_add(&h->held, 1);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(guard_state, const struct sock *sk, const int oldstate, const int newstate)
{
	struct sl_guard_stats *st;
	struct sl_guard_sk *s;
	__u32 v;

	if (newstate == SL_TCP_CLOSE) {
		/* A request measured and never answered: the service dropped
		 * it or the client gave up. Only our sockets have storage.
		 * (Not the port first: by this event the close has released
		 * it, and skc_num is 0.) */
		s = sk_state(sk);
		if (!s)
			return 0;
		held_release(s);
		if (s->since_ns && busy_end(s)) {
			st = stats_of(s->guard);
			if (st)
				st->abandoned++;
		}
		return 0;
	}
	if (oldstate != SL_TCP_ESTABLISHED && newstate != SL_TCP_ESTABLISHED)
		return 0;
	if (oldstate != SL_TCP_SYN_RECV && oldstate != SL_TCP_ESTABLISHED)
		return 0;	/* a client's connect: not the service's side */
	v = port_of(sk);
	if (!v || !ours(sk))
		return 0;
	st = stats_of(SL_GUARD_PORT_IDX(v));
	if (!st)
		return 0;
	/* Leaving ESTABLISHED (a FIN sent or received): no longer an open
	 * connection, though its last bytes may still be read. */
	if (oldstate == SL_TCP_ESTABLISHED) {
		st->closed++;
	} else {
		st->conns++;
		held_add(sk, SL_GUARD_PORT_IDX(v));
	}
	return 0;
}

SEC("tp_btf/sk_data_ready")
int BPF_PROG(guard_ready, const struct sock *sk)
{
	struct sl_guard_stats *st;
	struct sl_guard_sk *s;
	__u32 v, idx, shift, slot, *seq;

	v = port_of(sk);
	if (!v || sk->__sk_common.skc_state != SL_TCP_ESTABLISHED)
		return 0;
	s = sk_state(sk);
	if (!s) {
		if (!ours(sk))
			return 0;
		s = bpf_sk_storage_get(&guard_sk, (void *)sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
		if (!s)
			return 0;
	}
	/* A request in progress (more of it, or the next one pipelined
	 * behind it): its sojourn started at its first bytes. */
	if (s->since_ns)
		return 0;
	/* A keep-alive connection's later requests: one in 2^shift, counted
	 * per CPU, not in the socket (see the top). */
	idx = SL_GUARD_PORT_IDX(v);
	shift = SL_GUARD_PORT_SHIFT(v);
	if (s->replied && shift) {
		seq = bpf_map_lookup_elem(&guard_seq, &idx);
		if (seq && (++*seq & ((1u << (shift & 15)) - 1)))
			return 0;
	}
	s->guard = idx;
	s->read_ns = 0;
	/* Counted before since_ns is set: the service's read, woken after
	 * this, finds the slot up (a locked add orders the two). */
	slot = busy_slot(sk) & (SL_GUARD_BUSY_SLOTS - 1);
	s->busy_slot = slot;
	__sync_fetch_and_add(&guard_busy[slot], 1);
	s->since_ns = bpf_ktime_get_ns();
	st = stats_of(idx);
	if (st)
		st->started++;
	return 0;
}

SEC("tp_btf/tcp_rcv_space_adjust")
int BPF_PROG(guard_recv, struct sock *sk)
{
	struct sl_guard_sk *s;

	if (!maybe_busy(sk))
		return 0;
	s = sk_state(sk);
	if (!s || !s->since_ns || s->read_ns)
		return 0;
	s->read_ns = bpf_ktime_get_ns();
	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(guard_send, struct sock *sk, int ret, int flags)
{
	struct sl_guard_stats *st;
	struct sl_guard_sk *s;
	__u64 now, since, read, sojourn;
	__u32 b;

	if (ret <= 0 || !maybe_busy(sk))
		return 0;
	s = sk_state(sk);
	if (!s || !s->since_ns)
		return 0;
	now = bpf_ktime_get_ns();
	read = s->read_ns;
	/* Ended before the next arrival may start one (that runs on another
	 * CPU, in softirq): a race loses one sample, never mixes two. */
	since = busy_end(s);
	if (!since)
		return 0;	/* the close ended it */
	sojourn = now > since ? now - since : 0;
	st = stats_of(s->guard);
	if (!st)
		return 0;
	st->answered++;
	st->sojourn_ns += sojourn;
	b = sl_guard_bucket(sojourn);
	/* The verifier needs the bounds even though the helper clamps. */
	if (b < SL_GUARD_BUCKETS)
		st->hist[b]++;
	if (read >= since && read <= now) {
		b = sl_guard_bucket(read - since);
		if (b < SL_GUARD_BUCKETS)
			st->whist[b]++;
	}
	if (!s->replied) {
		s->replied = 1;
		st->served++;
		held_release(s);
	}
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
