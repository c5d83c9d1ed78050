/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Filling an event's fields: the task's context and the tapset's socket
 * variables. When counting in the kernel only what a row is keyed or
 * filtered by is read: each helper call and kernel read costs the traced
 * task time, on every message.
 */
#ifndef SOCKTAP_FILL_BPF_H
#define SOCKTAP_FILL_BPF_H

/* Whether a field is needed: always for events sent to user space; when counting, if a row is keyed by it. */
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
	if (skf == ADDR_INET) {
		e->addr_family = ADDR_INET;
		bpf_core_read(e->laddr, 4, &sk->__sk_common.skc_rcv_saddr);
		bpf_core_read(e->raddr, 4, &sk->__sk_common.skc_daddr);
	} else if (skf == ADDR_INET6) {
		e->addr_family = ADDR_INET6;
		bpf_core_read(e->laddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(e->raddr, 16, &sk->__sk_common.skc_v6_daddr);
	}
	if (e->addr_family) {
		e->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
		/*
		 * skc_num is cleared when the socket leaves the hash tables (a reset,
		 * the FIN exchange, close); the source port is still in inet_sport.
		 */
		if (!e->lport)
			e->lport = bpf_ntohs(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
		e->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	}
}

#endif
