/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The tracepoint backend for messages (Linux 6.3+): sock:sock_send_length
 * and sock:sock_recv_length fire exactly once per message at the end of
 * sock_sendmsg_nosec / sock_recvmsg_nosec, for every family and every
 * path, with the result.
 */
#ifndef SOCKTAP_TRACEPOINT_BPF_H
#define SOCKTAP_TRACEPOINT_BPF_H

static __always_inline int tp_message(struct sock *sk, int ret, int flags, bool send)
{
	message(sk->sk_socket, sk, ret, flags, send, true);
	return 0;
}

SEC("tp_btf/sock_send_length")
int BPF_PROG(sock_send_length, struct sock *sk, int ret, int flags)
{
	return tp_message(sk, ret, flags, true);
}

SEC("tp_btf/sock_recv_length")
int BPF_PROG(sock_recv_length, struct sock *sk, int ret, int flags)
{
	return tp_message(sk, ret, flags, false);
}

#endif
