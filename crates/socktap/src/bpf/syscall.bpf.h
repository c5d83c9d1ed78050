/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The syscall layer: raw_syscalls sys_enter/sys_exit and process exit.
 * It always serves the entry probes (requested sizes are in the syscall
 * arguments), and serves creation, release and messages where no better
 * mechanism does (config.syscall_*). Descriptors are turned into sockets
 * through the task's file descriptor table. Creation and release are in
 * syscall_sockets.bpf.h.
 */
#ifndef SOCKTAP_SYSCALL_BPF_H
#define SOCKTAP_SYSCALL_BPF_H

/* ---- entry probes: requested sizes from the syscall arguments ---- */

static __always_inline s64 iov_sum(u64 iov, u64 n, u32 max)
{
	struct user_iovec v;
	s64 sum = 0;

	for (int i = 0; i < max; i++) {
		if (i >= n)
			break;
		if (bpf_probe_read_user(&v, sizeof(v), (void *)(iov + i * sizeof(v))))
			return -EFAULT; /* as the kernel would fail the copy */
		sum += v.iov_len;
	}
	return sum;
}

static __always_inline s64 msghdr_size(u64 msg, u32 max_iov)
{
	struct user_msghdr m;

	if (bpf_probe_read_user(&m, sizeof(m), (void *)msg))
		return -EFAULT;
	return iov_sum(m.msg_iov, m.msg_iovlen, max_iov);
}

/* One message of an mmsghdr vector at a time, for entries and for results. */
struct mmsg_ctx {
	struct event *ev;
	u64 vec;
};

static __always_inline long mmsg_entry(u64 i, struct mmsg_ctx *c, u32 max_iov)
{
	c->ev->size = msghdr_size(c->vec + i * sizeof(struct user_mmsghdr), max_iov);
	c->ev->ts_ns = bpf_ktime_get_ns();
	emit(c->ev);
	return 0;
}

/* Loop callbacks, one per bound: without bpf_loop the verifier unrolls the iovec sum too. */
static long mmsg_entry_cb(u64 i, void *c)
{
	return mmsg_entry(i, c, MAX_IOV);
}

static long mmsg_entry_cb_old(u64 i, void *c)
{
	return mmsg_entry(i, c, OLD_MMSG_IOV);
}

/* The result of message i: the kernel wrote its length into msg_len. */
static long mmsg_result_cb(u64 i, void *data)
{
	struct mmsg_ctx *c = data;
	unsigned int len = 0;
	u64 at = c->vec + i * sizeof(struct user_mmsghdr) + __builtin_offsetof(struct user_mmsghdr, msg_len);

	bpf_probe_read_user(&len, sizeof(len), (void *)at);
	c->ev->size = len;
	emit(c->ev);
	return 0;
}

/* Calls cb for each of n messages; without bpf_loop, those beyond the bound are counted lost. */
static __always_inline void mmsg_walk(bool use_loop, u64 n, long (*cb)(u64, void *), long (*cb_old)(u64, void *),
				      struct mmsg_ctx *c)
{
	if (n > MAX_MMSG)
		n = MAX_MMSG; /* the kernel handles no more */
	if (use_loop) {
		loop(true, 0, n, cb, c);
		return;
	}
	if (n > OLD_MMSG_MAX)
		count_losses(LOSS_LOOP_BOUND, n - OLD_MMSG_MAX);
	loop(false, OLD_MMSG_MAX, n, cb_old, c);
}

/* An entry probe of a data-moving syscall, with the size it asks for. */
static __always_inline void sys_io_enter(struct pt_regs *regs, struct sys_row row, bool use_loop)
{
	struct socket *sock;
	struct event e;
	u64 arg;

	if (!wanted(row.entry) || cfg.failed_only || !pass_task())
		return;
	sock = fd_socket(sys_arg(regs, row.fd_arg));
	if (!sock)
		return;
	__builtin_memset(&e, 0, sizeof(e));
	fill_task(&e, row.entry);
	fill_socket(&e, sock, NULL, false);
	if (!pass_socket(&e))
		return;
	arg = sys_arg(regs, row.size_arg);
	switch (row.size_from) {
	case SIZE_ARG:
		e.size = arg;
		break;
	case SIZE_IOVEC:
		e.size = iov_sum(arg, sys_arg(regs, row.count_arg), MAX_IOV);
		break;
	case SIZE_MSGHDR:
		e.size = msghdr_size(arg, MAX_IOV);
		break;
	default: { /* SIZE_MMSG: one entry per message */
		struct mmsg_ctx c = { .ev = &e, .vec = arg };

		mmsg_walk(use_loop, sys_arg(regs, row.count_arg), mmsg_entry_cb, mmsg_entry_cb_old, &c);
		return;
	}
	}
	emit(&e);
}

/* ---- sends and receives as syscall results (the syscall backend) ---- */

/* Remembers a data-moving syscall on a socket for its exit, where the result is the message's size. */
static __always_inline void sys_io_stash(long nr, struct pt_regs *regs, struct sys_row row)
{
	struct inflight_call call;
	struct socket *sock;
	u64 flags = 0;

	if (!row.result || !wanted(row.path) || !pass_task())
		return;
	if (row.flags_arg >= 0)
		flags = sys_arg(regs, row.flags_arg);
	if ((flags & MSG_PEEK) && cfg.skip_peek)
		return;
	sock = fd_socket(sys_arg(regs, row.fd_arg));
	if (!sock)
		return;
	__builtin_memset(&call, 0, sizeof(call));
	fill_task(&call.ev, row.path);
	fill_socket(&call.ev, sock, NULL, false);
	/* the ports are filtered at the exit, where the call may have bound one */
	if (!pass_socket_kind(&call.ev))
		return;
	call.nr = nr;
	call.sk = (u64)BPF_CORE_READ(sock, sk);
	call.ev.peek = (flags & MSG_PEEK) != 0;
	if (row.size_from == SIZE_MMSG)
		call.mmsg_vec = sys_arg(regs, row.size_arg);
	remember_call(&sys_calls, call.ev.tid, &call);
}

static __always_inline void sys_io_exit(struct inflight_call *call, struct sys_row row, long ret, bool use_loop)
{
	call->ev.ts_ns = bpf_ktime_get_ns();
	if (cfg.failed_only && ret >= 0)
		return;
	if (cfg.succeeded_only && ret < 0)
		return;
	/*
	 * The message went out from the port the call bound, if it bound one
	 * (a UDP send from an unbound socket): addresses as at the exit, as the
	 * message hooks read them.
	 */
	if (call->ev.addr_family && call->sk)
		fill_addresses(&call->ev, (struct sock *)call->sk, call->ev.addr_family, false);
	if (!pass_ports(&call->ev))
		return;
	if (row.size_from == SIZE_MMSG && ret >= 0) {
		/* ret messages went through; each has its own length */
		struct mmsg_ctx c = { .ev = &call->ev, .vec = call->mmsg_vec };

		mmsg_walk(use_loop, ret, mmsg_result_cb, mmsg_result_cb, &c);
		return;
	}
	call->ev.size = ret;
	emit(&call->ev);
}

/* ---- the programs ---- */

/*
 * A tp_btf program and its _noloop twin for kernels without bpf_loop
 * (5.10-5.16): the same handler, with use_loop true in one and false in the
 * other, a constant in each, so that the twin holds no bpf_loop call at all
 * (see loop()). The handler takes the program's arguments, named again in
 * call_args, then use_loop.
 */
#define TP_BTF_AND_NOLOOP(tp, handler, call_args, ...)            \
	SEC("tp_btf/" #tp)                                        \
	int BPF_PROG(tp, __VA_ARGS__)                             \
	{                                                         \
		return handler(UNPARENTHESIZE call_args, true);   \
	}                                                         \
	SEC("tp_btf/" #tp)                                        \
	int BPF_PROG(tp##_noloop, __VA_ARGS__)                    \
	{                                                         \
		return handler(UNPARENTHESIZE call_args, false);  \
	}
#define UNPARENTHESIZE(...) __VA_ARGS__

static __always_inline int on_sys_enter(struct pt_regs *regs, long nr, bool use_loop)
{
	struct sys_row row = sys_row(nr);

	switch (row.kind) {
	case SYS_CREATE:
		sys_create_enter(nr, regs);
		break;
	case SYS_CLOSE:
		sys_close_enter(nr, regs, use_loop);
		break;
	case SYS_IO:
		if (cfg.syscall_messages)
			sys_io_stash(nr, regs, row);
		sys_io_enter(regs, row, use_loop);
		break;
	default:
		/* every syscall of the system passes here: leave the others fast */
		break;
	}
	return 0;
}

TP_BTF_AND_NOLOOP(sys_enter, on_sys_enter, (regs, nr), struct pt_regs *regs, long nr)

static __always_inline int on_sys_exit(struct pt_regs *regs, long ret, bool use_loop)
{
	long nr = BPF_CORE_READ(regs, orig_ax);
	struct sys_row row = sys_row(nr);
	u32 tid = (u32)bpf_get_current_pid_tgid();
	struct inflight_call *call;

	if (row.kind == SYS_OTHER || (row.kind == SYS_IO && !(row.result && cfg.syscall_messages)))
		return 0;
	call = bpf_map_lookup_elem(&sys_calls, &tid);
	if (!call)
		return 0;
	if (call->nr == nr) {
		if (row.kind == SYS_IO)
			sys_io_exit(call, row, ret, use_loop);
		else if (row.kind == SYS_CREATE)
			sys_create_exit(call, ret);
		else
			sys_close_exit(call, ret);
	}
	bpf_map_delete_elem(&sys_calls, &tid);
	return 0;
}

TP_BTF_AND_NOLOOP(sys_exit, on_sys_exit, (regs, ret), struct pt_regs *regs, long ret)

/*
 * The last thread of a process that is the last holder of its descriptor
 * table: every socket whose last reference is in that table goes now.
 */
static __always_inline int on_process_exit(struct task_struct *task, bool use_loop)
{
	struct event e;

	if (!sys_close_wanted() || !pass_task())
		return 0;
	if (BPF_CORE_READ(task, files, count.counter) != 1)
		return 0;
	__builtin_memset(&e, 0, sizeof(e));
	scan_fds(&e, task, 0, MAX_FDS - 1, use_loop);
	return 0;
}

TP_BTF_AND_NOLOOP(sched_process_exit, on_process_exit, (task), struct task_struct *task)

#endif
