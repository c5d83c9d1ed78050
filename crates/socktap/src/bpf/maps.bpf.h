/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The maps every program shares, the configuration written before load,
 * and the small helpers over them: loss counters, lookup-or-insert, and a
 * loop that works with and without bpf_loop.
 */
#ifndef SOCKTAP_MAPS_BPF_H
#define SOCKTAP_MAPS_BPF_H

/* Filters and options: .rodata, so the verifier prunes what a run does not use. */
const volatile struct config cfg = {};

/* Events for user space (trace). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20); /* resized from user space before load */
} events SEC(".maps");

/* Events not delivered or counted, per CPU, one counter per enum loss_reason. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LOSS_REASONS);
	__type(key, u32);
	__type(value, u64);
} losses SEC(".maps");

/* In-kernel aggregation: the rows of a view (stat, top, serve). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, DEFAULT_ROWS); /* resized from user space before load */
	__type(key, struct agg_key);
	__type(value, struct agg_value);
} agg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, DEFAULT_ROWS);
	__type(key, struct agg_key);
	__type(value, struct agg_hist);
} agg_hist SEC(".maps");

/* Never written: an all-zero histogram to insert new rows from (too big for the stack). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct agg_hist);
} hist_zero SEC(".maps");

/*
 * --cgroup/--container: the cgroup v2 folders whose tasks are kept, with
 * everything below them. User space puts each folder's descriptor in after
 * load; bpf_current_task_under_cgroup() checks the hierarchy, so cgroups
 * made later (a container started after socktap) are matched too.
 */
struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, MAX_FILTER);
	__type(key, u32);
	__type(value, u32);
} cgroup_filter SEC(".maps");

/* Network devices (socktop -d). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 1024);
	__type(key, struct dev_key);
	__type(value, struct dev_value);
} devs SEC(".maps");

/*
 * Their names, written once per device: user space cannot name a device
 * of another namespace by its ifindex.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct dev_key);
	__type(value, struct dev_name);
} dev_names SEC(".maps");

/*
 * A call in flight between its entry and its return, per thread: what the
 * entry saw, completed at the return. Each pointer field has one meaning.
 */
struct inflight_call {
	struct event ev; /* the event as of the entry */
	u64 pair_fds;    /* socketpair(2): user pointer to the two new descriptors */
	u64 mmsg_vec;    /* sendmmsg/recvmmsg: user pointer to the mmsghdr vector */
	u64 sock_out;    /* __sock_create: kernel pointer to where the new socket goes */
	u64 sk;          /* syscall-layer messages: the sock, whose addresses are read again at exit */
	u32 nr;          /* the syscall, where the syscall layer tracks the call */
};

/* Calls the syscall layer follows from sys_enter to sys_exit, by thread id. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_CALLS_IN_FLIGHT);
	__type(key, u32);
	__type(value, struct inflight_call);
} sys_calls SEC(".maps");

/* Calls the function hooks follow from entry to return (create, close), by thread id. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_CALLS_IN_FLIGHT);
	__type(key, u32);
	__type(value, struct inflight_call);
} fn_calls SEC(".maps");

static __always_inline void count_losses(enum loss_reason why, u64 n)
{
	u32 key = why;
	u64 *c = bpf_map_lookup_elem(&losses, &key);

	/* per-CPU, but another program may preempt this one on the same CPU */
	if (c)
		__sync_fetch_and_add(c, n);
}

static __always_inline void count_loss(enum loss_reason why)
{
	count_losses(why, 1);
}

/*
 * The value for key in a hash map, inserting zero first if it is new; NULL
 * (counted as LOSS_ROWS_FULL) when the map is full.
 */
static __always_inline void *map_slot(void *map, const void *key, const void *zero)
{
	void *v = bpf_map_lookup_elem(map, key);

	if (v)
		return v;
	/* -EEXIST means another CPU inserted it first: the lookup finds it */
	bpf_map_update_elem(map, key, zero, BPF_NOEXIST);
	v = bpf_map_lookup_elem(map, key);
	if (!v)
		count_loss(LOSS_ROWS_FULL);
	return v;
}

/* Follows a call from its entry to its return: false (counted) if the table is full. */
static __always_inline bool remember_call(void *map, u32 tid, const struct inflight_call *call)
{
	if (bpf_map_update_elem(map, &tid, call, BPF_ANY)) {
		count_loss(LOSS_CALLS_FULL);
		return false;
	}
	return true;
}

/*
 * Calls cb(i, ctx) for i in [0, n): bpf_loop where the kernel has it, else
 * a bounded loop of at most old_max iterations (5.10-5.16). use_loop
 * is a compile-time constant in each program: kernels without bpf_loop
 * reject the very instruction that loads a callback's address, so those
 * programs must not contain it at all (the *_noloop variants).
 */
static __always_inline void loop(bool use_loop, u32 old_max, u32 n, long (*cb)(u64, void *), void *ctx)
{
	if (use_loop) {
		bpf_loop(n, cb, ctx, 0);
		return;
	}
	for (u32 i = 0; i < old_max; i++) {
		if (i >= n)
			break;
		cb(i, ctx);
	}
}

#endif
