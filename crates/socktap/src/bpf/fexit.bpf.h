/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The fentry/fexit backend: BPF trampolines on kernel functions, which see
 * both the arguments and the result in one program.
 *
 * Sends and receives without the length tracepoints (before 6.3): the
 * proto_ops sendmsg/recvmsg of each family, which sock_sendmsg_nosec and
 * sock_recvmsg_nosec call exactly once per message on every path. Not
 * sock_sendmsg: syscall sends bypass it since the __sock_sendmsg change
 * (6.6, backported to 5.10 and 6.1). unix_seqpacket_* call the dgram
 * functions, so they are not hooked again.
 */
#ifndef SOCKTAP_FEXIT_BPF_H
#define SOCKTAP_FEXIT_BPF_H

static __always_inline int fexit_message(struct socket *sock, int ret, int flags, bool send, bool direct)
{
	message(sock, NULL, ret, flags, send, direct);
	return 0;
}

#define FEXIT_SEND(fn)                                                                \
	SEC("fexit/" #fn)                                                             \
	int BPF_PROG(fexit_##fn, struct socket *sock, void *msg, size_t len, int ret) \
	{                                                                             \
		return fexit_message(sock, ret, 0, true, true);                             \
	}

#define FEXIT_RECV(fn)                                                                           \
	SEC("fexit/" #fn)                                                                        \
	int BPF_PROG(fexit_##fn, struct socket *sock, void *msg, size_t len, int flags, int ret) \
	{                                                                                        \
		return fexit_message(sock, ret, flags, false, true);                                   \
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

/*
 * Before 6.5, sendfile and splice into a socket do not call sendmsg: they
 * go through the file's sendpage (sock_sendpage -> ops->sendpage). Loaded
 * only where the kernel has it.
 */
SEC("fexit/sock_sendpage")
int BPF_PROG(fexit_sock_sendpage, struct file *file, void *page, int offset, size_t size, void *ppos, int more,
	     long ret)
{
	return fexit_message(BPF_CORE_READ(file, private_data), ret, 0, true, false);
}

/*
 * __sock_create's res is a struct socket **: verifiers before 6.13 refuse
 * reading a pointer-to-pointer argument from the context, so it is fetched
 * with bpf_get_func_arg (5.17+). Before that, create.return carries no inode.
 */
SEC("fentry/__sock_create")
int BPF_PROG(fentry_sock_create, void *net, int family, int type, int protocol)
{
	u64 res = 0;
	int kern = (int)ctx[5];

	if (bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_get_func_arg))
		bpf_get_func_arg(ctx, 4, &res);
	return fn_create_enter(family, type, protocol, kern, res);
}

SEC("fexit/__sock_create")
int BPF_PROG(fexit_sock_create)
{
	return fn_create_exit((int)ctx[6]);
}

SEC("fentry/sock_close")
int BPF_PROG(fentry_sock_close, struct inode *inode, struct file *filp)
{
	return fn_close_enter(BPF_CORE_READ(filp, private_data), false);
}

SEC("fexit/sock_close")
int BPF_PROG(fexit_sock_close, struct inode *inode, struct file *filp, int ret)
{
	return fn_close_exit();
}

SEC("fentry/sock_release")
int BPF_PROG(fentry_sock_release, struct socket *sock)
{
	return fn_close_enter(sock, true);
}

SEC("fexit/sock_release")
int BPF_PROG(fexit_sock_release, struct socket *sock)
{
	return fn_close_exit();
}

#endif
