/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Creation and release through the syscall layer, where no function hook
 * serves them: socket(2)/socketpair(2) with their results, and the last
 * reference of a socket going in close, dup2/dup3 over it, close_range and
 * process exit.
 */
#ifndef SOCKTAP_SYSCALL_SOCKETS_BPF_H
#define SOCKTAP_SYSCALL_SOCKETS_BPF_H

/* ---- creation ---- */

static __always_inline void sys_create_enter(long nr, struct pt_regs *regs)
{
	struct inflight_call call = {};
	struct event *e = &call.ev;

	if (!cfg.syscall_create || !create_wanted() || !pass_task())
		return;
	fill_task(e, PROBE_CREATE);
	e->family = sys_arg(regs, 0);
	/* socket(2) masks SOCK_NONBLOCK/SOCK_CLOEXEC off before __sock_create */
	e->type = sys_arg(regs, 1) & SOCK_TYPE_MASK;
	e->protocol = sys_arg(regs, 2);
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
	call.nr = nr;
	if (nr == NR_socketpair)
		call.pair_fds = sys_arg(regs, 3);
	remember_call(&sys_calls, e->tid, &call);
}

static __always_inline void sys_create_exit(struct inflight_call *call, long ret)
{
	struct event *e = &call->ev;
	int fds[2] = { -1, -1 };
	bool pair = call->nr == NR_socketpair;

	e->probe = PROBE_CREATE_RETURN;
	e->ts_ns = bpf_ktime_get_ns();
	e->err = ret < 0 ? ret : 0;
	e->size = e->err;
	if (cfg.failed_only && ret >= 0)
		return;
	if (cfg.succeeded_only && ret < 0)
		return;
	if (!pair)
		fds[0] = ret;
	else if (ret == 0)
		bpf_probe_read_user(fds, sizeof(fds), (void *)call->pair_fds);
	for (int i = 0; i < 2; i++) {
		struct socket *sock = ret >= 0 ? fd_socket(fds[i]) : NULL;

		e->ino = sock ? BPF_CORE_READ(sock, file, f_inode, i_ino) : 0;
		emit(e);
		if (!pair)
			break;
	}
}

/* ---- release ---- */

static __always_inline bool sys_close_wanted(void)
{
	return cfg.syscall_close && close_wanted();
}

/*
 * The socket of file f goes if this is the file's last reference. Fills e
 * with the socket as it is before the release.
 */
static __always_inline bool last_ref_socket(struct event *e, struct file *f)
{
	struct socket *sock = file_socket(f);

	if (!sock || file_refs(f) != 1)
		return false;
	fill_task(e, PROBE_CLOSE);
	fill_socket(e, sock, NULL, false);
	return pass_socket(e);
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
	struct event *ev;
	struct file **fds;
	u32 first;
};

static long scan_one(u64 i, void *data)
{
	struct scan_ctx *c = data;
	struct file *f = NULL;

	bpf_probe_read_kernel(&f, sizeof(f), &c->fds[c->first + i]);
	if (f && last_ref_socket(c->ev, f))
		emit_close_pair(c->ev);
	return 0;
}

/* Reports every socket in descriptors [first, last] whose last reference goes. */
static __always_inline void scan_fds(struct event *e, struct task_struct *task, u64 first, u64 last, bool use_loop)
{
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct scan_ctx c = { .ev = e };
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

static __always_inline void sys_close_enter(long nr, struct pt_regs *regs, bool use_loop)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct inflight_call call = {};
	struct event *e = &call.ev;
	long fd = sys_arg(regs, 0);
	long newfd = sys_arg(regs, 1);

	if (!sys_close_wanted() || !pass_task())
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
		if (sys_arg(regs, 2) & CLOSE_RANGE_CLOEXEC)
			return;
		scan_fds(e, task, (u32)fd, (u32)newfd, use_loop);
		return;
	default:
		return;
	}
	if (wanted(PROBE_CLOSE))
		emit(e);
	if (!wanted(PROBE_CLOSE_RETURN))
		return;
	call.nr = nr;
	remember_call(&sys_calls, e->tid, &call);
}

static __always_inline void sys_close_exit(struct inflight_call *call, long ret)
{
	/* close(2) releases the descriptor even when it reports an error */
	if (ret < 0 && call->nr != NR_close)
		return;
	call->ev.probe = PROBE_CLOSE_RETURN;
	call->ev.ts_ns = bpf_ktime_get_ns();
	emit(&call->ev);
}

#endif
