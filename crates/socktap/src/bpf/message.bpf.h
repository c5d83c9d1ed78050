/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One message sent or received, with its result, as any message hook sees
 * it (length tracepoints, fexit, kretprobes): the completion probes.
 */
#ifndef SOCKTAP_MESSAGE_BPF_H
#define SOCKTAP_MESSAGE_BPF_H

/*
 * The filters decided before anything is read: false if the message is
 * left out; else *probe is the path it took.
 */
static __always_inline bool message_wanted(int ret, int flags, bool send, u32 *probe)
{
	/* A peek does not take the message: counting it would count it twice. */
	if (!send && (flags & MSG_PEEK) && cfg.skip_peek)
		return false;
	/*
	 * Which path the message took costs a look at the thread's saved
	 * registers; counters keyed by socket.send/receive alone skip it.
	 */
	if (cfg.skip_classify)
		*probe = send ? PROBE_SENDMSG_RETURN : PROBE_RECVMSG_RETURN;
	else
		*probe = message_path(send);
	if (!wanted(*probe) || !pass_task())
		return false;
	if (cfg.failed_only && ret >= 0)
		return false;
	if (cfg.succeeded_only && ret < 0)
		return false;
	return true;
}

/* Fills e for a wanted message; false if the socket filters leave it out. */
static __always_inline bool fill_message(struct event *e, u32 probe, struct socket *sock, struct sock *sk, int ret,
					 int flags, bool send, bool direct)
{
	__builtin_memset(e, 0, sizeof(*e));
	fill_task(e, probe);
	fill_socket(e, sock, sk, direct);
	if (!pass_socket(e))
		return false;
	e->size = ret;
	e->peek = !send && (flags & MSG_PEEK);
	return true;
}

/* Builds the event for a message in e; false if it is filtered out. */
static __always_inline bool on_message(struct event *e, struct socket *sock, struct sock *sk, int ret, int flags,
				       bool send, bool direct)
{
	u32 probe;

	return message_wanted(ret, flags, send, &probe) && fill_message(e, probe, sock, sk, ret, flags, send, direct);
}

/*
 * A message as the length tracepoints and fexit see it, with its result,
 * counted or sent. Sent, it is filled where it goes, in its ring buffer
 * record, rather than built on the stack and copied there: the copy was a
 * fifth of trace's cost per message. sk, if given, also yields the
 * socket's cookie.
 */
static __always_inline void message(struct socket *sock, struct sock *sk, int ret, int flags, bool send, bool direct)
{
	struct event *e;
	u32 probe;

	if (!message_wanted(ret, flags, send, &probe))
		return;
	if (cfg.aggregate) {
		struct event row;

		if (fill_message(&row, probe, sock, sk, ret, flags, send, direct))
			aggregate(&row);
		return;
	}
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		struct event lost;

		/* lost only if the socket filters would have kept it */
		if (fill_message(&lost, probe, sock, sk, ret, flags, send, direct))
			count_loss(LOSS_RING_FULL);
		return;
	}
	if (!fill_message(e, probe, sock, sk, ret, flags, send, direct)) {
		bpf_ringbuf_discard(e, BPF_RB_NO_WAKEUP);
		return;
	}
	if (sk)
		e->cookie = bpf_get_socket_cookie(sk);
	bpf_ringbuf_submit(e, wakeup_flag());
}

#endif
