// SPDX-License-Identifier: GPL-2.0
/*
 * socktap's BPF programs: SystemTap's socket tapset on tracepoints, the
 * syscall layer and per-thread syscall context.
 *
 * Sends and receives come from sock:sock_send_length / sock:sock_recv_length,
 * which fire exactly once per message at the end of sock_sendmsg_nosec /
 * sock_recvmsg_nosec, for every family and every path. The syscall the
 * thread is in (read from its saved registers) tells which tapset probe the
 * message belongs to, so the four send probes partition the sends and the
 * four receive probes partition the receives.
 *
 * Entry probes, creation and release come from raw syscall entry/exit and
 * process exit, which see the file descriptor table.
 */
#include "kernel.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "socktap.h"

char LICENSE[] SEC("license") = "GPL";

/* Makes libbpf-cargo emit struct event into the skeleton's types. */
struct event _event = {};

const volatile struct config cfg = {};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20); /* resized from user space before load */
} events SEC(".maps");

/* Events the ring buffer had no room for, per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, u64);
} lost SEC(".maps");

/* In-kernel aggregation: rows of a view, and how many did not fit. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 10240); /* set from user space before load */
	__type(key, struct agg_key);
	__type(value, struct agg_value);
} agg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 10240);
	__type(key, struct agg_key);
	__type(value, struct agg_hist);
} agg_hist SEC(".maps");

/* Never written: an all-zero histogram to insert new rows from. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct agg_hist);
} hist_zero SEC(".maps");

/* Index 0: events that found no room in agg or agg_hist (or pending). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, u64);
} overflow SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 1024);
	__type(key, u32);
	__type(value, struct dev_value);
} devs SEC(".maps");

/* Makes libbpf-cargo emit these into the skeleton's types. */
struct agg_key _agg_key = {};
struct agg_value _agg_value = {};
struct agg_hist _agg_hist = {};
struct dev_value _dev_value = {};

/* What a thread's syscall entry left for its exit: create and close returns. */
struct pending {
	struct event ev;
	u64 fds_ptr; /* socketpair: user pointer to the two new fds */
	u32 nr;
	u32 fire;    /* 0: nothing to report at exit */
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, u32);
	__type(value, struct pending);
} pending SEC(".maps");

/* The same, for function entry/return pairs (create, close, kretprobes). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, u32);
	__type(value, struct pending);
} func_pending SEC(".maps");


/* x86_64 syscall numbers of the calls that move data on or manage sockets. */
enum {
	NR_read = 0,
	NR_write = 1,
	NR_close = 3,
	NR_pread64 = 17,
	NR_pwrite64 = 18,
	NR_readv = 19,
	NR_writev = 20,
	NR_dup2 = 33,
	NR_sendfile = 40,
	NR_socket = 41,
	NR_sendto = 44,
	NR_recvfrom = 45,
	NR_sendmsg = 46,
	NR_recvmsg = 47,
	NR_socketpair = 53,
	NR_splice = 275,
	NR_dup3 = 292,
	NR_preadv = 295,
	NR_pwritev = 296,
	NR_recvmmsg = 299,
	NR_sendmmsg = 307,
	NR_preadv2 = 327,
	NR_pwritev2 = 328,
	NR_close_range = 436,
};

#define MAX_IOV 64     /* iovec segments summed for an entry size */
#define MAX_MMSG 1024  /* UIO_MAXIOV: the kernel's cap on vlen */
#define MAX_FDS 65536  /* descriptors scanned at exit / close_range */
/*
 * Where the kernel has no bpf_loop (< 5.17), loops are unrolled by the
 * verifier, whose limits bound them: messages of one sendmmsg/recvmmsg
 * (each summing up to OLD_MMSG_IOV segments) and descriptors scanned at
 * close_range/exit.
 */
#define OLD_MMSG_MAX 16
#define OLD_MMSG_IOV 8
#define OLD_FDS_MAX 256

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

static __always_inline bool wanted(u32 probe)
{
	return cfg.probe_mask & (1U << probe);
}

static __always_inline bool in_u32(u32 v, const volatile u32 *set, u32 n)
{
	for (int i = 0; i < MAX_FILTER; i++) {
		if (i >= n)
			break;
		if (set[i] == v)
			return true;
	}
	return false;
}

static __always_inline bool in_s32(s32 v, const volatile s32 *set, u32 n)
{
	for (int i = 0; i < MAX_FILTER; i++) {
		if (i >= n)
			break;
		if (set[i] == v)
			return true;
	}
	return false;
}

static __always_inline bool comm_eq(const char *a, const volatile char *b)
{
	for (int i = 0; i < TASK_COMM_LEN; i++) {
		if (a[i] != b[i])
			return false;
		if (a[i] == 0)
			return true;
	}
	return true;
}

/* Task filters: cheap, so they run before anything is read. */
static __always_inline bool pass_task(void)
{
	u64 id = bpf_get_current_pid_tgid();

	if (cfg.n_pids && !in_u32(id >> 32, cfg.pids, cfg.n_pids))
		return false;
	if (cfg.n_tids && !in_u32((u32)id, cfg.tids, cfg.n_tids))
		return false;
	if (cfg.n_uids && !in_u32((u32)bpf_get_current_uid_gid(), cfg.uids, cfg.n_uids))
		return false;
	if (cfg.n_comms) {
		char comm[TASK_COMM_LEN] = {};
		bool hit = false;

		bpf_get_current_comm(comm, sizeof(comm));
		for (int i = 0; i < MAX_FILTER; i++) {
			if (i >= cfg.n_comms)
				break;
			if (comm_eq(comm, cfg.comms[i])) {
				hit = true;
				break;
			}
		}
		if (!hit)
			return false;
	}
	return true;
}

static __always_inline bool in_ports(u16 p)
{
	for (int i = 0; i < MAX_FILTER; i++) {
		if (i >= cfg.n_ports)
			break;
		if (cfg.ports[i] == p)
			return true;
	}
	return false;
}

/* Socket filters, on an event whose socket fields are filled in. */
static __always_inline bool pass_socket(const struct event *e)
{
	if (cfg.n_families && !in_s32(e->family, cfg.families, cfg.n_families))
		return false;
	if (cfg.n_protocols && !in_s32(e->protocol, cfg.protocols, cfg.n_protocols))
		return false;
	if (cfg.n_types && !in_s32(e->type, cfg.types, cfg.n_types))
		return false;
	if (cfg.n_ports && !(e->addr_family && (in_ports(e->lport) || in_ports(e->rport))))
		return false;
	return true;
}

/*
 * Whether a field is needed: always for events sent to user space; when
 * counting in the kernel, only if a row is keyed by it. Each helper call
 * and kernel read costs the traced task time, on every message.
 */
static __always_inline bool need(u32 key)
{
	return !cfg.aggregate || (cfg.agg_keys & key);
}

static __always_inline void fill_task(struct event *e, u32 probe)
{
	u64 id = bpf_get_current_pid_tgid();

	e->pid = id >> 32;
	e->tid = (u32)id;
	e->probe = probe;
	if (!cfg.aggregate) {
		e->ts_ns = bpf_ktime_get_ns();
		e->cpu = bpf_get_smp_processor_id();
	}
	if (need(AGG_UID))
		e->uid = (u32)bpf_get_current_uid_gid();
	if (need(AGG_CGROUP))
		e->cgroup = bpf_get_current_cgroup_id();
	if (need(AGG_COMM))
		bpf_get_current_comm(e->comm, sizeof(e->comm));
}

/*
 * The tapset's socket fields: family from proto_ops (sk_family where only the
 * sock is reachable), protocol from the sock, state/type/flags from the
 * socket, -1 for what is missing.
 */
static __always_inline void fill_socket(struct event *e, struct socket *sock, struct sock *sk)
{
	e->family = -1;
	e->protocol = -1;
	e->state = -1;
	e->type = -1;
	if (sock) {
		if (!cfg.aggregate) {
			e->state = BPF_CORE_READ(sock, state);
			e->sock_flags = BPF_CORE_READ(sock, flags);
			e->ino = BPF_CORE_READ((struct socket_alloc *)sock, vfs_inode.i_ino);
		}
		if (need(AGG_TYPE) || cfg.n_types)
			e->type = BPF_CORE_READ(sock, type);
		if (need(AGG_FAMILY) || cfg.n_families) {
			const struct proto_ops *ops = BPF_CORE_READ(sock, ops);

			if (ops)
				e->family = BPF_CORE_READ(ops, family);
		}
		if (!sk)
			sk = BPF_CORE_READ(sock, sk);
	}
	if (!sk)
		return;
	if (need(AGG_PROTOCOL) || cfg.n_protocols)
		e->protocol = BPF_CORE_READ(sk, sk_protocol);
	if (!cfg.aggregate) {
		/* 0 until something asked for it; the tracepoint path generates it */
		e->cookie = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
	} else if (!(cfg.agg_keys & (AGG_FAMILY | AGG_PORT)) && !cfg.n_families && !cfg.n_ports) {
		return; /* counting: nothing below is needed */
	}
	u16 skf = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (e->family < 0)
		e->family = skf;
	if (cfg.aggregate && !(cfg.agg_keys & AGG_PORT) && !cfg.n_ports)
		return;
	if (skf == AF_INET) {
		e->addr_family = AF_INET;
		bpf_core_read(e->laddr, 4, &sk->__sk_common.skc_rcv_saddr);
		bpf_core_read(e->raddr, 4, &sk->__sk_common.skc_daddr);
	} else if (skf == AF_INET6) {
		e->addr_family = AF_INET6;
		bpf_core_read(e->laddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(e->raddr, 16, &sk->__sk_common.skc_v6_daddr);
	}
	if (e->addr_family) {
		e->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
		e->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	}
}

static __always_inline void count_lost(void)
{
	u32 zero = 0;
	u64 *n = bpf_map_lookup_elem(&lost, &zero);

	if (n)
		__sync_fetch_and_add(n, 1);
}

/*
 * Submit without waking the reader, unless enough is pending: one wake-up
 * per event costs the traced workload 2-4x, batched wake-ups about 5%. The
 * reader also polls on a short timer, so a quiet trickle is not held back.
 */
static __always_inline u64 wakeup_flag(void)
{
	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= cfg.wakeup_bytes)
		return BPF_RB_FORCE_WAKEUP;
	return BPF_RB_NO_WAKEUP;
}

static __always_inline void count_overflow(void)
{
	u32 zero = 0;
	u64 *n = bpf_map_lookup_elem(&overflow, &zero);

	if (n)
		*n += 1; /* per-CPU: no other writer */
}

/* The value for key in a per-CPU hash, inserting a zero one if needed. */
static __always_inline void *agg_slot(void *map, const struct agg_key *k, const void *zero)
{
	void *v = bpf_map_lookup_elem(map, k);

	if (v)
		return v;
	/* -EEXIST means another CPU inserted it first: the lookup finds it */
	bpf_map_update_elem(map, k, zero, BPF_NOEXIST);
	v = bpf_map_lookup_elem(map, k);
	if (!v)
		count_overflow();
	return v;
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

/*
 * Counts an event into its row instead of sending it to user space: the
 * cheapest way to answer "who uses the network" (socktop, stat, serve).
 */
static __always_inline void aggregate(const struct event *e)
{
	struct agg_value zero = {};
	struct agg_key k = {};
	struct agg_value *v;
	u32 keys = cfg.agg_keys;
	s64 bytes = 0;
	bool error = false;

	k.probe = e->probe;
	if (keys & AGG_PID)
		k.pid = e->pid;
	if (keys & AGG_UID)
		k.uid = e->uid;
	if (keys & AGG_COMM)
		__builtin_memcpy(k.comm, e->comm, sizeof(k.comm));
	if (keys & AGG_CGROUP)
		k.cgroup = e->cgroup;
	if (keys & AGG_FAMILY)
		k.family = e->family;
	if (keys & AGG_PROTOCOL)
		k.protocol = e->protocol;
	if (keys & AGG_TYPE)
		k.type = e->type;
	if (keys & AGG_PORT)
		k.port = e->lport;

	if (e->probe == PROBE_CREATE_RETURN)
		error = e->err < 0;
	else if (e->probe < PROBE_CREATE && (e->probe & 1))
		error = e->size < 0;
	if (e->probe < PROBE_CREATE && !error)
		bytes = e->size;

	v = agg_slot(&agg, &k, &zero);
	if (!v)
		return;
	v->count += 1;
	v->bytes += bytes;
	v->errors += error;

	if (cfg.hist && e->probe < PROBE_CREATE && !error) {
		struct agg_hist *h;

		/* a new row starts from an all-zero value: too big for the stack */
		h = bpf_map_lookup_elem(&agg_hist, &k);
		if (!h) {
			u32 z = 0;
			struct agg_hist *empty = bpf_map_lookup_elem(&hist_zero, &z);

			if (!empty)
				return;
			bpf_map_update_elem(&agg_hist, &k, empty, BPF_NOEXIST);
			h = bpf_map_lookup_elem(&agg_hist, &k);
			if (!h) {
				count_overflow();
				return;
			}
		}
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
		count_lost();
		return;
	}
	__builtin_memcpy(e, src, sizeof(*e));
	bpf_ringbuf_submit(e, wakeup_flag());
}

/*
 * Each program builds its event on its own stack. Not in a per-CPU map:
 * tracing programs run with preemption enabled on preemptible kernels, so
 * another task's program on the same CPU could overwrite a shared buffer
 * halfway through.
 */
static __always_inline struct pending *zeroed(struct pending *p)
{
	__builtin_memset(p, 0, sizeof(*p));
	return p;
}

/* ---- sends and receives: the length tracepoints ---- */

/*
 * Which tapset path a message took, from the syscall the thread is in.
 * Kernel threads and io_uring workers have no syscall: their messages are
 * socket-call messages (sendmsg/recvmsg), as are sendfile, splice and
 * io_uring submissions.
 */
/* The syscall number the current thread is in, -1 for kernel threads. */
static __always_inline long current_syscall(void)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct pt_regs *regs;

	if (BPF_CORE_READ(task, flags) & (PF_KTHREAD | PF_IO_WORKER))
		return -1;
	if (bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_task_pt_regs)) {
		regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	} else {
		/* before 5.15: task_pt_regs() by hand, at the top of the stack */
		regs = (struct pt_regs *)((void *)BPF_CORE_READ(task, stack) + THREAD_SIZE -
					  bpf_core_type_size(struct pt_regs));
	}
	return BPF_CORE_READ(regs, orig_ax);
}

static __always_inline u32 classify(bool send)
{
	long nr = current_syscall();

	if (send) {
		switch (nr) {
		case NR_write:
		case NR_pwrite64:
			return PROBE_AIO_WRITE_RETURN;
		case NR_writev:
		case NR_pwritev:
		case NR_pwritev2:
			return PROBE_WRITEV_RETURN;
		default:
			return PROBE_SENDMSG_RETURN;
		}
	}
	switch (nr) {
	case NR_read:
	case NR_pread64:
		return PROBE_AIO_READ_RETURN;
	case NR_readv:
	case NR_preadv:
	case NR_preadv2:
		return PROBE_READV_RETURN;
	default:
		return PROBE_RECVMSG_RETURN;
	}
}

/*
 * One message sent or received, with its result: the completion probes.
 * Returns the event to emit (built in buf) or NULL if filtered out.
 */
static __always_inline struct event *on_message(struct pending *buf, struct socket *sock, struct sock *sk,
						int ret, int flags, bool send)
{
	struct pending *p;
	struct event *e;
	u32 probe;

	/* A peek does not take the message: counting it would count it twice. */
	if (!send && (flags & MSG_PEEK) && cfg.skip_peek)
		return NULL;
	/*
	 * Which path the message took costs a look at the thread's saved
	 * registers; counters keyed by socket.send/receive alone skip it.
	 */
	if (cfg.skip_classify)
		probe = send ? PROBE_SENDMSG_RETURN : PROBE_RECVMSG_RETURN;
	else
		probe = classify(send);
	if (!wanted(probe) || !pass_task())
		return NULL;
	if (cfg.failed_only && ret >= 0)
		return NULL;
	p = zeroed(buf);
	e = &p->ev;
	fill_task(e, probe);
	fill_socket(e, sock, sk);
	if (!pass_socket(e))
		return NULL;
	e->size = ret;
	return e;
}

static __always_inline int on_length(struct sock *sk, int ret, int flags, bool send)
{
	struct pending buf;
	struct event *e = on_message(&buf, BPF_CORE_READ(sk, sk_socket), sk, ret, flags, send);

	if (e) {
		if (!cfg.aggregate)
			e->cookie = bpf_get_socket_cookie(sk);
		emit(e);
	}
	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(sock_send_length, struct sock *sk, int ret, int flags)
{
	return on_length(sk, ret, flags, true);
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(sock_recv_length, struct sock *sk, int ret, int flags)
{
	return on_length(sk, ret, flags, false);
}

/* ---- the file descriptor table ---- */

static __always_inline struct file *fd_file(struct task_struct *task, long fd)
{
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds;
	struct file *f = NULL;

	if (!fdt || fd < 0 || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

static __always_inline struct socket *file_socket(struct file *f)
{
	if (!f)
		return NULL;
	if ((BPF_CORE_READ(f, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return NULL;
	return BPF_CORE_READ(f, private_data);
}

static __always_inline struct socket *fd_socket(long fd)
{
	return file_socket(fd_file((struct task_struct *)bpf_get_current_task(), fd));
}

/* How many references the file has: the socket goes when the last one does. */
static __always_inline long file_refs(struct file *f)
{
	if (bpf_core_field_exists(f->f_ref))
		return BPF_CORE_READ(f, f_ref.refcnt.counter) + 1;
	return BPF_CORE_READ((struct file___old *)f, f_count.counter);
}

/* ---- entry probes: requested sizes from the syscall arguments ---- */

static __always_inline s64 iov_sum(u64 iov, u64 n, u32 max)
{
	struct user_iovec v;
	s64 sum = 0;

	for (int i = 0; i < max; i++) {
		if (i >= n)
			break;
		if (bpf_probe_read_user(&v, sizeof(v), (void *)(iov + i * sizeof(v))))
			return -14; /* -EFAULT, as the kernel would fail the copy */
		sum += v.iov_len;
	}
	return sum;
}

static __always_inline s64 msghdr_size(u64 msg, u32 max_iov)
{
	struct user_msghdr m;

	if (bpf_probe_read_user(&m, sizeof(m), (void *)msg))
		return -14;
	return iov_sum(m.msg_iov, m.msg_iovlen, max_iov);
}

/* Fills task and socket fields for an entry on fd; false if not reported. */
static __always_inline bool entry_event(struct event *e, u32 probe, long fd)
{
	struct socket *sock;

	if (!wanted(probe) || cfg.failed_only || !pass_task())
		return false;
	sock = fd_socket(fd);
	if (!sock)
		return false;
	fill_task(e, probe);
	fill_socket(e, sock, NULL);
	return pass_socket(e);
}

struct mmsg_ctx {
	struct event *ev;
	u64 vec;
};

static long mmsg_one(u64 i, void *data)
{
	struct mmsg_ctx *c = data;

	c->ev->size = msghdr_size(c->vec + i * sizeof(struct user_mmsghdr), MAX_IOV);
	c->ev->ts_ns = bpf_ktime_get_ns();
	emit(c->ev);
	return 0;
}

/* The same with fewer segments, for kernels that unroll the loop. */
static long mmsg_one_old(u64 i, void *data)
{
	struct mmsg_ctx *c = data;

	c->ev->size = msghdr_size(c->vec + i * sizeof(struct user_mmsghdr), OLD_MMSG_IOV);
	c->ev->ts_ns = bpf_ktime_get_ns();
	emit(c->ev);
	return 0;
}

static __always_inline void entry_io(struct pending *p, long nr, struct pt_regs *regs, bool use_loop)
{
	struct event *e = &p->ev;
	long fd = BPF_CORE_READ(regs, di);
	u64 a1 = BPF_CORE_READ(regs, si);
	u64 a2 = BPF_CORE_READ(regs, dx);

	switch (nr) {
	case NR_write:
	case NR_pwrite64:
		if (entry_event(e, PROBE_AIO_WRITE, fd)) {
			e->size = a2;
			emit(e);
		}
		break;
	case NR_read:
	case NR_pread64:
		if (entry_event(e, PROBE_AIO_READ, fd)) {
			e->size = a2;
			emit(e);
		}
		break;
	case NR_writev:
	case NR_pwritev:
	case NR_pwritev2:
		if (entry_event(e, PROBE_WRITEV, fd)) {
			e->size = iov_sum(a1, a2, MAX_IOV);
			emit(e);
		}
		break;
	case NR_readv:
	case NR_preadv:
	case NR_preadv2:
		if (entry_event(e, PROBE_READV, fd)) {
			e->size = iov_sum(a1, a2, MAX_IOV);
			emit(e);
		}
		break;
	case NR_sendto:
		if (entry_event(e, PROBE_SENDMSG, fd)) {
			e->size = a2;
			emit(e);
		}
		break;
	case NR_recvfrom:
		if (entry_event(e, PROBE_RECVMSG, fd)) {
			e->size = a2;
			emit(e);
		}
		break;
	case NR_sendmsg:
		if (entry_event(e, PROBE_SENDMSG, fd)) {
			e->size = msghdr_size(a1, MAX_IOV);
			emit(e);
		}
		break;
	case NR_recvmsg:
		if (entry_event(e, PROBE_RECVMSG, fd)) {
			e->size = msghdr_size(a1, MAX_IOV);
			emit(e);
		}
		break;
	case NR_sendmmsg:
	case NR_recvmmsg: {
		struct mmsg_ctx c = { .ev = e, .vec = a1 };
		u32 probe = nr == NR_sendmmsg ? PROBE_SENDMSG : PROBE_RECVMSG;

		if (entry_event(e, probe, fd))
			if (use_loop)
				loop(true, 0, a2 < MAX_MMSG ? a2 : MAX_MMSG, mmsg_one, &c);
			else
				loop(false, OLD_MMSG_MAX, a2, mmsg_one_old, &c);
		break;
	}
	case NR_sendfile:
		/* sendfile(out_fd, in_fd, offset, count): sends on out_fd */
		if (entry_event(e, PROBE_SENDMSG, fd)) {
			e->size = BPF_CORE_READ(regs, r10);
			emit(e);
		}
		break;
	case NR_splice:
		/* splice(fd_in, off_in, fd_out, off_out, len, flags) */
		if (entry_event(e, PROBE_SENDMSG, a2)) {
			e->size = BPF_CORE_READ(regs, r8);
			emit(e);
		}
		break;
	}
}

/* ---- creation ---- */

static __always_inline void entry_create(struct pending *p, long nr, struct pt_regs *regs)
{
	struct event *e = &p->ev;
	u32 tid;

	if (!cfg.syscall_create || !(wanted(PROBE_CREATE) || wanted(PROBE_CREATE_RETURN)) || !pass_task())
		return;
	fill_task(e, PROBE_CREATE);
	e->family = BPF_CORE_READ(regs, di);
	/* socket(2) masks SOCK_NONBLOCK/SOCK_CLOEXEC off before __sock_create */
	e->type = BPF_CORE_READ(regs, si) & SOCK_TYPE_MASK;
	e->protocol = BPF_CORE_READ(regs, dx);
	e->state = -1;
	e->requester = 0;
	if (cfg.n_ports || !pass_socket(e))
		return;
	if (wanted(PROBE_CREATE) && !cfg.failed_only) {
		emit(e);
		/* socketpair creates two sockets: the tapset fires twice */
		if (nr == NR_socketpair)
			emit(e);
	}
	if (!wanted(PROBE_CREATE_RETURN))
		return;
	p->nr = nr;
	p->fire = 1;
	p->fds_ptr = BPF_CORE_READ(regs, r10);
	tid = e->tid;
	if (bpf_map_update_elem(&pending, &tid, p, BPF_ANY))
		count_lost(); /* its .return cannot be reported */
}

static __always_inline void exit_create(struct pending *p, long ret)
{
	struct event *e = &p->ev;
	int fds[2] = { -1, -1 };

	e->probe = PROBE_CREATE_RETURN;
	e->ts_ns = bpf_ktime_get_ns();
	e->err = ret < 0 ? ret : 0;
	e->size = e->err;
	if (cfg.failed_only && ret >= 0)
		return;
	if (p->nr == NR_socket) {
		fds[0] = ret;
	} else if (ret == 0) {
		bpf_probe_read_user(fds, sizeof(fds), (void *)p->fds_ptr);
	}
	for (int i = 0; i < 2; i++) {
		struct socket *sock = ret >= 0 ? fd_socket(fds[i]) : NULL;

		e->ino = sock ? BPF_CORE_READ(sock, file, f_inode, i_ino) : 0;
		emit(e);
		if (p->nr == NR_socket)
			break;
	}
}

/* ---- release ---- */

/*
 * The socket behind fd goes if this descriptor holds the file's last
 * reference. Fills e with the socket as it is before the release.
 */
static __always_inline bool last_ref_socket(struct event *e, struct file *f)
{
	struct socket *sock = file_socket(f);

	if (!sock || file_refs(f) != 1)
		return false;
	fill_task(e, PROBE_CLOSE);
	fill_socket(e, sock, NULL);
	return pass_socket(e);
}

static __always_inline bool close_wanted(void)
{
	return (wanted(PROBE_CLOSE) || wanted(PROBE_CLOSE_RETURN)) && !cfg.failed_only;
}

/* The syscall layer's release tracking, when it is the one serving close. */
static __always_inline bool syscall_close_wanted(void)
{
	return cfg.syscall_close && close_wanted();
}

/* A release that completes within this event: report entry and return now. */
static __always_inline void emit_close_pair(struct event *e)
{
	if (wanted(PROBE_CLOSE))
		emit(e);
	if (wanted(PROBE_CLOSE_RETURN)) {
		e->probe = PROBE_CLOSE_RETURN;
		emit(e);
	}
}

struct scan_ctx {
	struct pending *p;
	struct file **fds;
	u32 first;
};

static long scan_one(u64 i, void *data)
{
	struct scan_ctx *c = data;
	struct file *f = NULL;

	bpf_probe_read_kernel(&f, sizeof(f), &c->fds[c->first + i]);
	if (f && last_ref_socket(&c->p->ev, f))
		emit_close_pair(&c->p->ev);
	return 0;
}

/* Report every socket in fds [first, last] whose last reference goes. */
static __always_inline void scan_fds(struct pending *p, struct task_struct *task, u64 first, u64 last,
				     bool use_loop)
{
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct scan_ctx c = { .p = p };
	u64 max;

	if (!fdt)
		return;
	max = BPF_CORE_READ(fdt, max_fds);
	if (last >= max)
		last = max - 1;
	if (first > last)
		return;
	c.fds = BPF_CORE_READ(fdt, fd);
	c.first = first;
	loop(use_loop, OLD_FDS_MAX, last - first + 1 < MAX_FDS ? last - first + 1 : MAX_FDS, scan_one, &c);
}

static __always_inline void entry_close(struct pending *p, long nr, struct pt_regs *regs, bool use_loop)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct event *e = &p->ev;
	long fd = BPF_CORE_READ(regs, di);
	long newfd = BPF_CORE_READ(regs, si);
	u32 tid;

	if (!syscall_close_wanted() || !pass_task())
		return;
	switch (nr) {
	case NR_close:
		if (!last_ref_socket(e, fd_file(task, fd)))
			return;
		break;
	case NR_dup2:
	case NR_dup3:
		/* dup2 over an open descriptor closes it, if oldfd is valid */
		if (fd == newfd || !fd_file(task, fd))
			return;
		if (!last_ref_socket(e, fd_file(task, newfd)))
			return;
		break;
	case NR_close_range:
		if (BPF_CORE_READ(regs, dx) & CLOSE_RANGE_CLOEXEC)
			return;
		scan_fds(p, task, (u32)fd, (u32)newfd, use_loop);
		return;
	default:
		return;
	}
	if (wanted(PROBE_CLOSE))
		emit(e);
	if (!wanted(PROBE_CLOSE_RETURN))
		return;
	p->nr = nr;
	p->fire = 1;
	tid = e->tid;
	if (bpf_map_update_elem(&pending, &tid, p, BPF_ANY))
		count_lost();
}

static __always_inline bool io_wanted(long nr)
{
	switch (nr) {
	case NR_write:
	case NR_pwrite64:
		return wanted(PROBE_AIO_WRITE);
	case NR_read:
	case NR_pread64:
		return wanted(PROBE_AIO_READ);
	case NR_writev:
	case NR_pwritev:
	case NR_pwritev2:
		return wanted(PROBE_WRITEV);
	case NR_readv:
	case NR_preadv:
	case NR_preadv2:
		return wanted(PROBE_READV);
	case NR_sendto:
	case NR_sendmsg:
	case NR_sendmmsg:
	case NR_sendfile:
	case NR_splice:
		return wanted(PROBE_SENDMSG);
	case NR_recvfrom:
	case NR_recvmsg:
	case NR_recvmmsg:
		return wanted(PROBE_RECVMSG);
	default:
		return false;
	}
}

/* ---- sends and receives from the syscall layer (the syscall backend) ---- */

/* The .return probe of an I/O syscall, or -1 if it moves no socket data. */
static __always_inline int io_return_probe(long nr)
{
	switch (nr) {
	case NR_write:
	case NR_pwrite64:
		return PROBE_AIO_WRITE_RETURN;
	case NR_read:
	case NR_pread64:
		return PROBE_AIO_READ_RETURN;
	case NR_writev:
	case NR_pwritev:
	case NR_pwritev2:
		return PROBE_WRITEV_RETURN;
	case NR_readv:
	case NR_preadv:
	case NR_preadv2:
		return PROBE_READV_RETURN;
	case NR_sendto:
	case NR_sendmsg:
	case NR_sendmmsg:
	case NR_sendfile:
		return PROBE_SENDMSG_RETURN;
	case NR_recvfrom:
	case NR_recvmsg:
	case NR_recvmmsg:
		return PROBE_RECVMSG_RETURN;
	default:
		return -1;
	}
}

/*
 * Remembers an I/O syscall on a socket for its exit, where the result is
 * the message's size. Only when the syscall layer serves the messages.
 */
static __always_inline void stash_io(struct pending *p, long nr, struct pt_regs *regs)
{
	int probe = io_return_probe(nr);
	long fd = BPF_CORE_READ(regs, di);
	struct socket *sock;
	u64 flags = 0;
	u32 tid;

	if (probe < 0 || !wanted(probe) || !pass_task())
		return;
	if (nr == NR_recvfrom || nr == NR_recvmmsg)
		flags = BPF_CORE_READ(regs, r10);
	else if (nr == NR_recvmsg)
		flags = BPF_CORE_READ(regs, dx);
	if ((flags & MSG_PEEK) && cfg.skip_peek)
		return;
	sock = fd_socket(fd);
	if (!sock)
		return;
	fill_task(&p->ev, probe);
	fill_socket(&p->ev, sock, NULL);
	if (!pass_socket(&p->ev))
		return;
	p->nr = nr;
	p->fire = 1;
	p->fds_ptr = BPF_CORE_READ(regs, si); /* the mmsghdr vector, for *mmsg */
	tid = p->ev.tid;
	if (bpf_map_update_elem(&pending, &tid, p, BPF_ANY))
		count_lost();
}

static long mmsg_ret_one(u64 i, void *data)
{
	struct mmsg_ctx *c = data;
	unsigned int len = 0;
	u64 at = c->vec + i * sizeof(struct user_mmsghdr) + __builtin_offsetof(struct user_mmsghdr, msg_len);

	bpf_probe_read_user(&len, sizeof(len), (void *)at);
	c->ev->size = len;
	emit(c->ev);
	return 0;
}

static __always_inline void exit_io(struct pending *p, long ret, bool use_loop)
{
	struct mmsg_ctx c = { .ev = &p->ev, .vec = p->fds_ptr };

	p->ev.ts_ns = bpf_ktime_get_ns();
	if (cfg.failed_only && ret >= 0)
		return;
	if ((p->nr == NR_sendmmsg || p->nr == NR_recvmmsg) && ret >= 0) {
		/* ret messages went through; each has its own length */
		if (use_loop)
			loop(true, 0, ret < MAX_MMSG ? ret : MAX_MMSG, mmsg_ret_one, &c);
		else
			loop(false, OLD_MMSG_MAX, ret, mmsg_ret_one, &c);
		return;
	}
	p->ev.size = ret;
	emit(&p->ev);
}

static __always_inline int on_sys_enter(struct pt_regs *regs, long nr, bool use_loop)
{
	struct pending buf;
	struct pending *p;

	switch (nr) {
	case NR_socket:
	case NR_socketpair:
		p = zeroed(&buf);
		entry_create(p, nr, regs);
		break;
	case NR_close:
	case NR_dup2:
	case NR_dup3:
	case NR_close_range:
		p = zeroed(&buf);
		entry_close(p, nr, regs, use_loop);
		break;
	default:
		/* every syscall of the system passes here: leave the others fast */
		if (cfg.syscall_messages && io_return_probe(nr) >= 0) {
			p = zeroed(&buf);
			stash_io(p, nr, regs);
		}
		if (!io_wanted(nr))
			break;
		p = zeroed(&buf);
		entry_io(p, nr, regs, use_loop);
		break;
	}
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(sys_enter, struct pt_regs *regs, long nr)
{
	return on_sys_enter(regs, nr, true);
}

SEC("tp_btf/sys_enter")
int BPF_PROG(sys_enter_noloop, struct pt_regs *regs, long nr)
{
	return on_sys_enter(regs, nr, false);
}

static __always_inline int on_sys_exit(struct pt_regs *regs, long ret, bool use_loop)
{
	long nr = BPF_CORE_READ(regs, orig_ax);
	u32 tid = (u32)bpf_get_current_pid_tgid();
	struct pending *p;

	switch (nr) {
	case NR_socket:
	case NR_socketpair:
	case NR_close:
	case NR_dup2:
	case NR_dup3:
		break;
	default:
		if (cfg.syscall_messages && io_return_probe(nr) >= 0)
			break;
		return 0;
	}
	p = bpf_map_lookup_elem(&pending, &tid);
	if (!p)
		return 0;
	if (p->fire && p->nr == nr) {
		if (io_return_probe(nr) >= 0) {
			exit_io(p, ret, use_loop);
		} else if (nr == NR_socket || nr == NR_socketpair) {
			exit_create(p, ret);
		} else if (ret >= 0 || nr == NR_close) {
			/* close(2) releases the descriptor even when it reports an error */
			p->ev.probe = PROBE_CLOSE_RETURN;
			p->ev.ts_ns = bpf_ktime_get_ns();
			emit(&p->ev);
		}
	}
	bpf_map_delete_elem(&pending, &tid);
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(sys_exit, struct pt_regs *regs, long ret)
{
	return on_sys_exit(regs, ret, true);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(sys_exit_noloop, struct pt_regs *regs, long ret)
{
	return on_sys_exit(regs, ret, false);
}

/*
 * The last thread of a process that is the last holder of its descriptor
 * table: every socket whose last reference is in that table goes now.
 */
static __always_inline int on_process_exit(struct task_struct *task, bool use_loop)
{
	struct pending buf;
	struct pending *p;

	if (!syscall_close_wanted() || !pass_task())
		return 0;
	if (BPF_CORE_READ(task, files, count.counter) != 1)
		return 0;
	p = zeroed(&buf);
	scan_fds(p, task, 0, MAX_FDS - 1, use_loop);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(sched_process_exit, struct task_struct *task)
{
	return on_process_exit(task, true);
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(sched_process_exit_noloop, struct task_struct *task)
{
	return on_process_exit(task, false);
}

/* ---- network devices (socktop -d) ---- */

static __always_inline int on_dev(struct sk_buff *skb, bool tx)
{
	struct dev_value zero = {}, *v;
	u32 ifindex = BPF_CORE_READ(skb, dev, ifindex);
	u64 len = BPF_CORE_READ(skb, len);

	v = bpf_map_lookup_elem(&devs, &ifindex);
	if (!v) {
		bpf_map_update_elem(&devs, &ifindex, &zero, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&devs, &ifindex);
		if (!v) {
			count_overflow();
			return 0;
		}
	}
	if (tx) {
		v->tx_packets += 1;
		v->tx_bytes += len;
	} else {
		v->rx_packets += 1;
		v->rx_bytes += len;
	}
	return 0;
}

SEC("tp_btf/net_dev_queue")
int BPF_PROG(net_dev_queue, struct sk_buff *skb)
{
	return on_dev(skb, true);
}

SEC("tp_btf/netif_receive_skb")
int BPF_PROG(netif_receive_skb, struct sk_buff *skb)
{
	return on_dev(skb, false);
}

/* ==== function hooks: the fentry/fexit and kprobe/kretprobe backends ==== */

/*
 * Sends and receives without the length tracepoints (before 6.3): the
 * proto_ops sendmsg/recvmsg of each family, which sock_sendmsg_nosec and
 * sock_recvmsg_nosec call exactly once per message on every path. Not
 * sock_sendmsg: syscall sends bypass it since the __sock_sendmsg change
 * (6.6, backported to 5.10 and 6.1). unix_seqpacket_* call the dgram
 * functions, so they are not hooked again.
 */
#define FEXIT_SEND(fn)                                                              \
	SEC("fexit/" #fn)                                                           \
	int BPF_PROG(fexit_##fn, struct socket *sock, void *msg, size_t len, int ret) \
	{                                                                           \
		struct pending buf;                                                 \
		struct event *e = on_message(&buf, sock, NULL, ret, 0, true);       \
		if (e)                                                              \
			emit(e);                                                    \
		return 0;                                                           \
	}

#define FEXIT_RECV(fn)                                                                     \
	SEC("fexit/" #fn)                                                                  \
	int BPF_PROG(fexit_##fn, struct socket *sock, void *msg, size_t len, int flags, int ret) \
	{                                                                                  \
		struct pending buf;                                                        \
		struct event *e = on_message(&buf, sock, NULL, ret, flags, false);         \
		if (e)                                                                     \
			emit(e);                                                           \
		return 0;                                                                  \
	}

FEXIT_SEND(inet_sendmsg)
FEXIT_SEND(inet6_sendmsg)
FEXIT_SEND(unix_stream_sendmsg)
FEXIT_SEND(unix_dgram_sendmsg)
FEXIT_SEND(netlink_sendmsg)
FEXIT_RECV(inet_recvmsg)
FEXIT_RECV(inet6_recvmsg)
FEXIT_RECV(unix_stream_recvmsg)
FEXIT_RECV(unix_dgram_recvmsg)
FEXIT_RECV(netlink_recvmsg)

/* kretprobes see only the result: the entry keeps the socket per thread. */
struct inflight {
	struct socket *sock;
	int flags;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, u32);
	__type(value, struct inflight);
} inflight SEC(".maps");

static __always_inline int kprobe_msg(struct socket *sock, int flags)
{
	u32 tid = (u32)bpf_get_current_pid_tgid();
	struct inflight in = { .sock = sock, .flags = flags };

	if (bpf_map_update_elem(&inflight, &tid, &in, BPF_ANY))
		count_lost();
	return 0;
}

static __always_inline int kretprobe_msg(int ret, bool send)
{
	u32 tid = (u32)bpf_get_current_pid_tgid();
	struct inflight *in = bpf_map_lookup_elem(&inflight, &tid);
	struct pending buf;
	struct event *e;

	if (!in)
		return 0;
	e = on_message(&buf, in->sock, NULL, ret, in->flags, send);
	bpf_map_delete_elem(&inflight, &tid);
	if (e)
		emit(e);
	return 0;
}

#define KPROBE_SEND(fn)                                              \
	SEC("kprobe/" #fn)                                           \
	int BPF_KPROBE(kprobe_##fn, struct socket *sock)             \
	{                                                            \
		return kprobe_msg(sock, 0);                          \
	}                                                            \
	SEC("kretprobe/" #fn)                                        \
	int BPF_KRETPROBE(kretprobe_##fn, int ret)                   \
	{                                                            \
		return kretprobe_msg(ret, true);                     \
	}

#define KPROBE_RECV(fn)                                                              \
	SEC("kprobe/" #fn)                                                           \
	int BPF_KPROBE(kprobe_##fn, struct socket *sock, void *msg, size_t len, int flags) \
	{                                                                            \
		return kprobe_msg(sock, flags);                                      \
	}                                                                            \
	SEC("kretprobe/" #fn)                                                        \
	int BPF_KRETPROBE(kretprobe_##fn, int ret)                                   \
	{                                                                            \
		return kretprobe_msg(ret, false);                                    \
	}

KPROBE_SEND(inet_sendmsg)
KPROBE_SEND(inet6_sendmsg)
KPROBE_SEND(unix_stream_sendmsg)
KPROBE_SEND(unix_dgram_sendmsg)
KPROBE_SEND(netlink_sendmsg)
KPROBE_RECV(inet_recvmsg)
KPROBE_RECV(inet6_recvmsg)
KPROBE_RECV(unix_stream_recvmsg)
KPROBE_RECV(unix_dgram_recvmsg)
KPROBE_RECV(netlink_recvmsg)

/*
 * Before 6.5, sendfile and splice into a socket do not call sendmsg: they
 * go through the file's sendpage (sock_sendpage -> ops->sendpage). Hooked
 * only where the kernel has it.
 */
SEC("fexit/sock_sendpage")
int BPF_PROG(fexit_sock_sendpage, struct file *file, void *page, int offset, size_t size, void *ppos, int more,
	     long ret)
{
	struct pending buf;
	struct event *e = on_message(&buf, BPF_CORE_READ(file, private_data), NULL, ret, 0, true);

	if (e)
		emit(e);
	return 0;
}

SEC("kprobe/sock_sendpage")
int BPF_KPROBE(kprobe_sock_sendpage, struct file *file)
{
	return kprobe_msg(BPF_CORE_READ(file, private_data), 0);
}

SEC("kretprobe/sock_sendpage")
int BPF_KRETPROBE(kretprobe_sock_sendpage, long ret)
{
	return kretprobe_msg(ret, true);
}


/*
 * Creation in __sock_create: every socket, kernel-created ones included
 * (requester = kern). accept and sock_create_lite do not pass here.
 */
static __always_inline int create_entry(int family, int type, int protocol, int kern, u64 res)
{
	struct pending buf;
	struct pending *p;
	struct event *e;
	u32 tid;

	if (!(wanted(PROBE_CREATE) || wanted(PROBE_CREATE_RETURN)) || !pass_task() || cfg.n_ports)
		return 0;
	p = zeroed(&buf);
	e = &p->ev;
	fill_task(e, PROBE_CREATE);
	e->family = family;
	e->type = type;
	e->protocol = protocol;
	e->state = -1;
	e->requester = kern != 0;
	if (!pass_socket(e))
		return 0;
	if (wanted(PROBE_CREATE) && !cfg.failed_only)
		emit(e);
	if (!wanted(PROBE_CREATE_RETURN))
		return 0;
	p->fds_ptr = res; /* struct socket ** */
	p->fire = 1;
	tid = e->tid;
	if (bpf_map_update_elem(&func_pending, &tid, p, BPF_ANY))
		count_lost();
	return 0;
}

static __always_inline int create_return(int ret)
{
	u32 tid = (u32)bpf_get_current_pid_tgid();
	struct pending *p = bpf_map_lookup_elem(&func_pending, &tid);
	struct socket *sock = NULL;

	if (!p)
		return 0;
	if (p->fire && !(cfg.failed_only && ret >= 0)) {
		p->ev.probe = PROBE_CREATE_RETURN;
		p->ev.ts_ns = bpf_ktime_get_ns();
		p->ev.err = ret;
		p->ev.size = ret;
		if (ret >= 0)
			bpf_probe_read_kernel(&sock, sizeof(sock), (void *)p->fds_ptr);
		p->ev.ino = sock ? BPF_CORE_READ((struct socket_alloc *)sock, vfs_inode.i_ino) : 0;
		emit(&p->ev);
	}
	bpf_map_delete_elem(&func_pending, &tid);
	return 0;
}

/*
 * Release: sock_close (the file's last reference went: close, exit, dup2
 * over it, wherever the last fput happens) and sock_release (kernel
 * sockets and error paths). Both reach __sock_release, which may be
 * inlined, so they are hooked instead.
 */
static __always_inline int close_entry(struct socket *sock)
{
	struct pending buf;
	struct pending *p;
	struct event *e;
	u32 tid;

	if (!close_wanted() || !pass_task() || !sock)
		return 0;
	p = zeroed(&buf);
	e = &p->ev;
	fill_task(e, PROBE_CLOSE);
	fill_socket(e, sock, NULL);
	if (!pass_socket(e))
		return 0;
	if (wanted(PROBE_CLOSE))
		emit(e);
	if (!wanted(PROBE_CLOSE_RETURN))
		return 0;
	p->fire = 1;
	tid = e->tid;
	if (bpf_map_update_elem(&func_pending, &tid, p, BPF_ANY))
		count_lost();
	return 0;
}

static __always_inline int close_return(void)
{
	u32 tid = (u32)bpf_get_current_pid_tgid();
	struct pending *p = bpf_map_lookup_elem(&func_pending, &tid);

	if (!p)
		return 0;
	if (p->fire) {
		p->ev.probe = PROBE_CLOSE_RETURN;
		p->ev.ts_ns = bpf_ktime_get_ns();
		emit(&p->ev);
	}
	bpf_map_delete_elem(&func_pending, &tid);
	return 0;
}

/*
 * res is a struct socket **: verifiers before 6.13 refuse reading a
 * pointer-to-pointer argument from the context, so it is fetched with
 * bpf_get_func_arg (5.17+). Before that, create.return carries no inode.
 */
SEC("fentry/__sock_create")
int BPF_PROG(fentry_sock_create, void *net, int family, int type, int protocol)
{
	u64 res = 0;
	int kern = (int)ctx[5];

	if (bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_get_func_arg))
		bpf_get_func_arg(ctx, 4, &res);
	return create_entry(family, type, protocol, kern, res);
}

SEC("fexit/__sock_create")
int BPF_PROG(fexit_sock_create)
{
	return create_return((int)ctx[6]);
}

SEC("fentry/sock_close")
int BPF_PROG(fentry_sock_close, struct inode *inode, struct file *filp)
{
	return close_entry(BPF_CORE_READ(filp, private_data));
}

SEC("fexit/sock_close")
int BPF_PROG(fexit_sock_close, struct inode *inode, struct file *filp, int ret)
{
	return close_return();
}

SEC("fentry/sock_release")
int BPF_PROG(fentry_sock_release, struct socket *sock)
{
	return close_entry(sock);
}

SEC("fexit/sock_release")
int BPF_PROG(fexit_sock_release, struct socket *sock)
{
	return close_return();
}

SEC("kprobe/__sock_create")
int BPF_KPROBE(kprobe_sock_create, void *net, int family, int type, int protocol, struct socket **res)
{
	/* the sixth argument, kern, is in r9 on x86_64 */
	int kern = PT_REGS_PARM6_CORE(ctx);

	return create_entry(family, type, protocol, kern, (u64)res);
}

SEC("kretprobe/__sock_create")
int BPF_KRETPROBE(kretprobe_sock_create, int ret)
{
	return create_return(ret);
}

SEC("kprobe/sock_close")
int BPF_KPROBE(kprobe_sock_close, struct inode *inode, struct file *filp)
{
	return close_entry(BPF_CORE_READ(filp, private_data));
}

SEC("kretprobe/sock_close")
int BPF_KRETPROBE(kretprobe_sock_close)
{
	return close_return();
}

SEC("kprobe/sock_release")
int BPF_KPROBE(kprobe_sock_release, struct socket *sock)
{
	return close_entry(sock);
}

SEC("kretprobe/sock_release")
int BPF_KRETPROBE(kretprobe_sock_release)
{
	return close_return();
}
