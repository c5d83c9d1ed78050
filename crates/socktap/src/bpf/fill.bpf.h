/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Filling an event's fields: the task's context and the tapset's socket
 * variables. When counting in the kernel only what a row is keyed or
 * filtered by is read: each helper call and kernel read costs the traced
 * task time, on every message.
 */
#ifndef SOCKTAP_FILL_BPF_H
#define SOCKTAP_FILL_BPF_H

/* Whether a field is needed: always for events sent to user space; when counting, if a row is keyed by it or carries it. */
static __always_inline bool need(u32 key)
{
	return !cfg.aggregate || ((cfg.agg_keys | cfg.agg_carry) & key);
}

/*
 * Whether the kernel has bpf_get_current_task_btf (5.11+): one helper call
 * for a task pointer the verifier knows the type of, then direct loads of
 * a few ns each, where each of the pid, uid, cgroup and comm helpers costs
 * 35-100 ns on every message.
 */
#define HAVE_TASK_BTF bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_get_current_task_btf)

static __always_inline void fill_task(struct event *e, u32 probe)
{
	e->probe = probe;
	if (!cfg.aggregate) {
		e->ts_ns = bpf_ktime_get_ns();
		e->cpu = bpf_get_smp_processor_id();
	}
	if (HAVE_TASK_BTF) {
		struct task_struct *t = bpf_get_current_task_btf();

		e->pid = t->tgid;
		e->tid = t->pid;
		if (need(AGG_UID))
			e->uid = t->cred->uid.val;
		if (need(AGG_CGROUP))
			e->cgroup = t->cgroups->dfl_cgrp->kn->id;
		if (need(AGG_COMM))
			__builtin_memcpy(e->comm, t->comm, sizeof(e->comm));
		return;
	}
	u64 id = bpf_get_current_pid_tgid();

	e->pid = id >> 32;
	e->tid = (u32)id;
	if (need(AGG_UID))
		e->uid = (u32)bpf_get_current_uid_gid();
	if (need(AGG_CGROUP))
		e->cgroup = bpf_get_current_cgroup_id();
	if (need(AGG_COMM))
		bpf_get_current_comm(e->comm, sizeof(e->comm));
}

/*
 * A field of a kernel object: a direct load where the pointer is one the
 * verifier knows the type of (the arguments of tp_btf and fentry/fexit
 * programs, and what they point to), else bpf_probe_read_kernel (kprobes,
 * and sockets found through the descriptor table). `direct` is a
 * compile-time constant in each program, so only one side is compiled in.
 */
#define READ(direct, p, field) ((direct) ? (p)->field : BPF_CORE_READ(p, field))

/*
 * Local and remote address and port of an INET or INET6 sock of family
 * skf; nothing for the other families.
 */
static __always_inline void fill_addresses(struct event *e, struct sock *sk, u16 skf, bool direct)
{
	if (skf == ADDR_INET) {
		e->addr_family = ADDR_INET;
		if (direct) {
			*(u32 *)e->laddr = sk->__sk_common.skc_rcv_saddr;
			*(u32 *)e->raddr = sk->__sk_common.skc_daddr;
		} else {
			bpf_core_read(e->laddr, 4, &sk->__sk_common.skc_rcv_saddr);
			bpf_core_read(e->raddr, 4, &sk->__sk_common.skc_daddr);
		}
	} else if (skf == ADDR_INET6) {
		e->addr_family = ADDR_INET6;
		if (direct) {
			__builtin_memcpy(e->laddr, &sk->__sk_common.skc_v6_rcv_saddr, 16);
			__builtin_memcpy(e->raddr, &sk->__sk_common.skc_v6_daddr, 16);
		} else {
			bpf_core_read(e->laddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
			bpf_core_read(e->raddr, 16, &sk->__sk_common.skc_v6_daddr);
		}
	}
	if (e->addr_family) {
		e->lport = READ(direct, sk, __sk_common.skc_num);
		/*
		 * skc_num is cleared when the socket leaves the hash tables (a reset,
		 * the FIN exchange, close); the source port is still in inet_sport,
		 * beyond struct sock, so read the slow way on this rare path.
		 */
		if (!e->lport)
			e->lport = bpf_ntohs(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
		e->rport = bpf_ntohs(READ(direct, sk, __sk_common.skc_dport));
	}
}

/*
 * The tapset's socket fields: family from proto_ops (sk_family where only the
 * sock is reachable), protocol from the sock, state/type/flags from the
 * socket, -1 for what is missing.
 */
static __always_inline void fill_socket(struct event *e, struct socket *sock, struct sock *sk, bool direct)
{
	e->family = -1;
	e->protocol = -1;
	e->state = -1;
	e->type = -1;
	if (sock) {
		if (!cfg.aggregate) {
			e->state = READ(direct, sock, state);
			e->sock_flags = READ(direct, sock, flags);
			if (direct) {
				struct file *f = sock->file;

				e->ino = f ? f->f_inode->i_ino : 0;
			} else {
				e->ino = BPF_CORE_READ((struct socket_alloc *)sock, vfs_inode.i_ino);
			}
		}
		if (need(AGG_TYPE) || cfg.n_types)
			e->type = READ(direct, sock, type);
		if (need(AGG_FAMILY) || cfg.n_families) {
			const struct proto_ops *ops = READ(direct, sock, ops);

			if (ops)
				e->family = READ(direct, ops, family);
		}
		if (!sk)
			sk = READ(direct, sock, sk);
	}
	if (!sk)
		return;
	if (need(AGG_PROTOCOL) || cfg.n_protocols)
		e->protocol = READ(direct, sk, sk_protocol);
	if (!cfg.aggregate) {
		/* 0 until something asked for it; the tracepoint path generates it */
		e->cookie = READ(direct, sk, __sk_common.skc_cookie.counter);
	} else if (!(cfg.agg_keys & (AGG_FAMILY | AGG_PORT)) && !cfg.n_families && !cfg.n_ports) {
		return; /* counting: nothing below is needed */
	}
	u16 skf = READ(direct, sk, __sk_common.skc_family);
	if (e->family < 0)
		e->family = skf;
	if (cfg.aggregate && !(cfg.agg_keys & AGG_PORT) && !cfg.n_ports)
		return;
	fill_addresses(e, sk, skf, direct);
}

#endif
