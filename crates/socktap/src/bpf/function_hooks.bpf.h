/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the two function-hook backends (fentry/fexit and kprobe/kretprobe)
 * share: creation in __sock_create and release in sock_close/sock_release,
 * each followed from the function's entry to its return per thread.
 */
#ifndef SOCKTAP_FUNCTION_HOOKS_BPF_H
#define SOCKTAP_FUNCTION_HOOKS_BPF_H

/*
 * Creation in __sock_create: every socket, kernel-created ones included
 * (requester = kern). accept and sock_create_lite do not pass here.
 * sock_out is the function's struct socket ** result argument.
 */
static __always_inline int fn_create_enter(int family, int type, int protocol, int kern, u64 sock_out)
{
	struct inflight_call call;
	struct event *e = &call.ev;

	if (!create_wanted() || !pass_task() || cfg.n_ports)
		return 0;
	__builtin_memset(&call, 0, sizeof(call));
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
	call.sock_out = sock_out;
	remember_call(&fn_calls, e->tid, &call);
	return 0;
}

static __always_inline int fn_create_exit(int ret)
{
	u32 tid = (u32)bpf_get_current_pid_tgid();
	struct inflight_call *call = bpf_map_lookup_elem(&fn_calls, &tid);
	struct socket *sock = NULL;

	if (!call)
		return 0;
	if (!(cfg.failed_only && ret >= 0) && !(cfg.succeeded_only && ret < 0)) {
		call->ev.probe = PROBE_CREATE_RETURN;
		call->ev.ts_ns = bpf_ktime_get_ns();
		call->ev.err = ret;
		call->ev.size = ret;
		if (ret >= 0 && call->sock_out)
			bpf_probe_read_kernel(&sock, sizeof(sock), (void *)call->sock_out);
		call->ev.ino = sock ? BPF_CORE_READ((struct socket_alloc *)sock, vfs_inode.i_ino) : 0;
		emit(&call->ev);
	}
	bpf_map_delete_elem(&fn_calls, &tid);
	return 0;
}

/*
 * Release: sock_close (the file's last reference went: close, exit, dup2
 * over it, wherever the last fput happens) and sock_release (kernel
 * sockets and error paths). Both reach __sock_release, which may be
 * inlined, so they are hooked instead.
 */
static __always_inline int fn_close_enter(struct socket *sock, bool direct)
{
	struct inflight_call call;
	struct event *e = &call.ev;

	if (!close_wanted() || !pass_task() || !sock)
		return 0;
	__builtin_memset(&call, 0, sizeof(call));
	fill_task(e, PROBE_CLOSE);
	fill_socket(e, sock, NULL, direct);
	if (!pass_socket(e))
		return 0;
	if (wanted(PROBE_CLOSE))
		emit(e);
	if (!wanted(PROBE_CLOSE_RETURN))
		return 0;
	remember_call(&fn_calls, e->tid, &call);
	return 0;
}

static __always_inline int fn_close_exit(void)
{
	u32 tid = (u32)bpf_get_current_pid_tgid();
	struct inflight_call *call = bpf_map_lookup_elem(&fn_calls, &tid);

	if (!call)
		return 0;
	call->ev.probe = PROBE_CLOSE_RETURN;
	call->ev.ts_ns = bpf_ktime_get_ns();
	emit(&call->ev);
	bpf_map_delete_elem(&fn_calls, &tid);
	return 0;
}

#endif
