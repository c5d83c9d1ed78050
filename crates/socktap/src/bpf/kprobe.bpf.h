/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kprobe/kretprobe backend: the same functions as fexit.bpf.h, for
 * kernels that refuse BPF trampolines. A kretprobe sees only the result,
 * so the kprobe at entry keeps what the return needs, per thread.
 */
#ifndef SOCKTAP_KPROBE_BPF_H
#define SOCKTAP_KPROBE_BPF_H

/* A message call between its kprobe and its kretprobe. */
struct msg_call {
	struct socket *sock;
	int flags;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_CALLS_IN_FLIGHT);
	__type(key, u32);
	__type(value, struct msg_call);
} fn_msgs SEC(".maps");

static __always_inline int kprobe_msg_enter(struct socket *sock, int flags)
{
	u32 tid = (u32)bpf_get_current_pid_tgid();
	struct msg_call call = { .sock = sock, .flags = flags };

	if (bpf_map_update_elem(&fn_msgs, &tid, &call, BPF_ANY))
		count_loss(LOSS_CALLS_FULL);
	return 0;
}

static __always_inline int kprobe_msg_exit(int ret, bool send)
{
	u32 tid = (u32)bpf_get_current_pid_tgid();
	struct msg_call *call = bpf_map_lookup_elem(&fn_msgs, &tid);
	struct event e;
	bool keep;

	if (!call)
		return 0;
	keep = on_message(&e, call->sock, NULL, ret, call->flags, send, false);
	bpf_map_delete_elem(&fn_msgs, &tid);
	if (keep)
		emit(&e);
	return 0;
}

#define KPROBE_SEND(fn)                                              \
	SEC("kprobe/" #fn)                                           \
	int BPF_KPROBE(kprobe_##fn, struct socket *sock)             \
	{                                                            \
		return kprobe_msg_enter(sock, 0);                    \
	}                                                            \
	SEC("kretprobe/" #fn)                                        \
	int BPF_KRETPROBE(kretprobe_##fn, int ret)                   \
	{                                                            \
		return kprobe_msg_exit(ret, true);                   \
	}

#define KPROBE_RECV(fn)                                                              \
	SEC("kprobe/" #fn)                                                           \
	int BPF_KPROBE(kprobe_##fn, struct socket *sock, void *msg, size_t len, int flags) \
	{                                                                            \
		return kprobe_msg_enter(sock, flags);                                \
	}                                                                            \
	SEC("kretprobe/" #fn)                                                        \
	int BPF_KRETPROBE(kretprobe_##fn, int ret)                                   \
	{                                                                            \
		return kprobe_msg_exit(ret, false);                                  \
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

SEC("kprobe/sock_sendpage")
int BPF_KPROBE(kprobe_sock_sendpage, struct file *file)
{
	return kprobe_msg_enter(BPF_CORE_READ(file, private_data), 0);
}

SEC("kretprobe/sock_sendpage")
int BPF_KRETPROBE(kretprobe_sock_sendpage, long ret)
{
	return kprobe_msg_exit(ret, true);
}

SEC("kprobe/__sock_create")
int BPF_KPROBE(kprobe_sock_create, void *net, int family, int type, int protocol, struct socket **res)
{
	/* the sixth argument, kern, is in r9 on x86_64 */
	int kern = PT_REGS_PARM6_CORE(ctx);

	return fn_create_enter(family, type, protocol, kern, (u64)res);
}

SEC("kretprobe/__sock_create")
int BPF_KRETPROBE(kretprobe_sock_create, int ret)
{
	return fn_create_exit(ret);
}

SEC("kprobe/sock_close")
int BPF_KPROBE(kprobe_sock_close, struct inode *inode, struct file *filp)
{
	return fn_close_enter(BPF_CORE_READ(filp, private_data), false);
}

SEC("kretprobe/sock_close")
int BPF_KRETPROBE(kretprobe_sock_close)
{
	return fn_close_exit();
}

SEC("kprobe/sock_release")
int BPF_KPROBE(kprobe_sock_release, struct socket *sock)
{
	return fn_close_enter(sock, false);
}

SEC("kretprobe/sock_release")
int BPF_KRETPROBE(kretprobe_sock_release)
{
	return fn_close_exit();
}

#endif
