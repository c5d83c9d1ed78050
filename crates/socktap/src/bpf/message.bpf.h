/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One message sent or received, with its result, as any message hook sees
 * it (length tracepoints, fexit, kretprobes): the completion probes.
 */
#ifndef SOCKTAP_MESSAGE_BPF_H
#define SOCKTAP_MESSAGE_BPF_H

/* Builds the event for a message in e; false if it is filtered out. */
static __always_inline bool on_message(struct event *e, struct socket *sock, struct sock *sk, int ret, int flags,
				       bool send, bool direct)
{
	u32 probe;

	/* A peek does not take the message: counting it would count it twice. */
	if (!send && (flags & MSG_PEEK) && cfg.skip_peek)
		return false;
	/*
	 * Which path the message took costs a look at the thread's saved
	 * registers; counters keyed by socket.send/receive alone skip it.
	 */
	if (cfg.skip_classify)
		probe = send ? PROBE_SENDMSG_RETURN : PROBE_RECVMSG_RETURN;
	else
		probe = message_path(send);
	if (!wanted(probe) || !pass_task())
		return false;
	if (cfg.failed_only && ret >= 0)
		return false;
	if (cfg.succeeded_only && ret < 0)
		return false;
	__builtin_memset(e, 0, sizeof(*e));
	fill_task(e, probe);
	fill_socket(e, sock, sk, direct);
	if (!pass_socket(e))
		return false;
	e->size = ret;
	e->peek = !send && (flags & MSG_PEEK);
	return true;
}

#endif
