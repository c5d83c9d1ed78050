/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Where a finished event goes: to user space through the ring buffer
 * (trace), or counted into its row of the aggregation maps (stat, top,
 * serve), where no per-event record crosses to user space.
 */
#ifndef SOCKTAP_EMIT_BPF_H
#define SOCKTAP_EMIT_BPF_H

/*
 * Submit without waking the reader, unless enough is pending: one wake-up
 * per event costs the traced workload 2-4x, batched wake-ups about 5%. The
 * reader also polls on a short timer, so a quiet trickle is not held back.
 *
 * Asking the ring how full it is (bpf_ringbuf_query) is a helper call of
 * 30-40 ns, so each CPU asks only every QUERY_EVERY events. The wake-up
 * then comes up to QUERY_EVERY events per CPU late, at most an eighth of
 * the threshold; rings too small for that ask on every event.
 */
#define QUERY_EVERY 16

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, u32);
} unqueried SEC(".maps");

static __always_inline u64 wakeup_flag(void)
{
	if (cfg.wakeup_bytes >= 8 * QUERY_EVERY * sizeof(struct event)) {
		u32 zero = 0;
		u32 *n = bpf_map_lookup_elem(&unqueried, &zero);

		/* per-CPU; a preempting program on the same CPU only shifts the count */
		if (n && ++*n < QUERY_EVERY)
			return BPF_RB_NO_WAKEUP;
		if (n)
			*n = 0;
	}
	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= cfg.wakeup_bytes)
		return BPF_RB_FORCE_WAKEUP;
	return BPF_RB_NO_WAKEUP;
}

/* log2 bucket of n: 0 for 0, k for [2^(k-1), 2^k), capped at the last one. */
static __always_inline u32 size_bucket(u64 n)
{
	u32 b = 0;

	if (n >= (1ULL << 32)) {
		return HIST_BUCKETS - 1;
	}
	if (n >= (1 << 16)) { b += 16; n >>= 16; }
	if (n >= (1 << 8)) { b += 8; n >>= 8; }
	if (n >= (1 << 4)) { b += 4; n >>= 4; }
	if (n >= (1 << 2)) { b += 2; n >>= 2; }
	if (n >= (1 << 1)) { b += 1; n >>= 1; }
	b += n; /* n is now 0 or 1 */
	return b < HIST_BUCKETS ? b : HIST_BUCKETS - 1;
}

/* Counts an event into its row: the cheapest way to answer "who uses the network". */
static __always_inline void aggregate(const struct event *e)
{
	struct agg_value zero = {};
	struct agg_key k = {};
	struct agg_value *v;
	u32 keys = cfg.agg_keys;
	s64 bytes = 0;
	bool error = false;

	/* The row is keyed by the path and by what the view asks for; the rest of k stays zero. */
#define KEY_IF(bit, field, value)         \
	do {                              \
		if (keys & (bit))         \
			k.field = (value); \
	} while (0)
	k.probe = e->probe;
	KEY_IF(AGG_PID, pid, e->pid);
	KEY_IF(AGG_UID, uid, e->uid);
	if (keys & AGG_COMM)
		__builtin_memcpy(k.comm, e->comm, sizeof(k.comm));
	KEY_IF(AGG_CGROUP, cgroup, e->cgroup);
	KEY_IF(AGG_FAMILY, family, e->family);
	KEY_IF(AGG_PROTOCOL, protocol, e->protocol);
	KEY_IF(AGG_TYPE, type, e->type);
	KEY_IF(AGG_PORT, port, e->lport);
#undef KEY_IF

	if (e->probe == PROBE_CREATE_RETURN)
		error = e->err < 0;
	else if (e->probe < PROBE_CREATE && (e->probe & 1))
		error = e->size < 0;
	if (e->probe < PROBE_CREATE && !error)
		bytes = e->size;

	v = map_slot(&agg, &k, &zero);
	if (!v)
		return;
	v->count += 1;
	v->bytes += bytes;
	v->errors += error;
	if (cfg.agg_carry & AGG_UID)
		v->uid = e->uid;
	if (cfg.agg_carry & AGG_COMM)
		__builtin_memcpy(v->comm, e->comm, sizeof(v->comm));

	if (cfg.hist && e->probe < PROBE_CREATE && !error) {
		u32 z = 0;
		struct agg_hist *empty = bpf_map_lookup_elem(&hist_zero, &z);
		struct agg_hist *h;

		if (!empty)
			return;
		h = map_slot(&agg_hist, &k, empty);
		if (h)
			h->buckets[size_bucket(bytes) & (HIST_BUCKETS - 1)] += 1;
	}
}

static __always_inline void emit(const struct event *src)
{
	struct event *e;

	if (cfg.aggregate) {
		aggregate(src);
		return;
	}
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count_loss(LOSS_RING_FULL);
		return;
	}
	__builtin_memcpy(e, src, sizeof(*e));
	bpf_ringbuf_submit(e, wakeup_flag());
}

#endif
