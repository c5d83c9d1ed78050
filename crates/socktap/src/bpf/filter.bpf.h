/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The user's filters (struct config), decided in the kernel before an
 * event costs anything more. Values of one kind are OR'ed, kinds AND'ed.
 */
#ifndef SOCKTAP_FILTER_BPF_H
#define SOCKTAP_FILTER_BPF_H

static __always_inline bool wanted(u32 probe)
{
	return cfg.probe_mask & (1U << probe);
}

/* Whether v is among the first n values of set (n <= MAX_FILTER). */
#define IN_SET(v, set, n)                         \
	({                                        \
		bool hit_ = false;                \
		for (int i_ = 0; i_ < MAX_FILTER; i_++) { \
			if (i_ >= (n))            \
				break;            \
			if ((set)[i_] == (v)) {   \
				hit_ = true;      \
				break;            \
			}                         \
		}                                 \
		hit_;                             \
	})

static __always_inline bool comm_eq(const char *a, const volatile char *b)
{
	for (int i = 0; i < TASK_COMM_LEN; i++) {
		if (a[i] != b[i])
			return false;
		if (a[i] == 0)
			return true;
	}
	return true;
}

/* Whether a command name is among the filter's. */
static __always_inline bool comm_wanted(const char *comm)
{
	for (int i = 0; i < MAX_FILTER; i++) {
		if (i >= cfg.n_comms)
			break;
		if (comm_eq(comm, cfg.comms[i]))
			return true;
	}
	return false;
}

/* Whether the current task is in one of the filter's cgroups or below it: one helper call per cgroup. */
static __always_inline bool in_cgroups(void)
{
	for (u32 i = 0; i < MAX_FILTER; i++) {
		if (i >= cfg.n_cgroups)
			break;
		if (bpf_current_task_under_cgroup(&cgroup_filter, i) == 1)
			return true;
	}
	return false;
}

/*
 * Task filters: cheap, so they run before anything is read. The task's
 * ids come from direct loads where the kernel gives a BTF task pointer
 * (fill.bpf.h), from one helper each otherwise.
 */
static __always_inline bool pass_task(void)
{
	/* one buffer for both ways: the programs' stacks are near their limit */
	char comm[TASK_COMM_LEN] = {};

	if (cfg.n_cgroups && !in_cgroups())
		return false;
	if (!cfg.n_pids && !cfg.n_tids && !cfg.n_uids && !cfg.n_comms)
		return true;
	if (HAVE_TASK_BTF) {
		struct task_struct *t = bpf_get_current_task_btf();

		if (cfg.n_pids && !IN_SET((u32)t->tgid, cfg.pids, cfg.n_pids))
			return false;
		if (cfg.n_tids && !IN_SET((u32)t->pid, cfg.tids, cfg.n_tids))
			return false;
		if (cfg.n_uids && !IN_SET(t->cred->uid.val, cfg.uids, cfg.n_uids))
			return false;
		if (!cfg.n_comms)
			return true;
		__builtin_memcpy(comm, t->comm, sizeof(comm));
		return comm_wanted(comm);
	}
	u64 id = bpf_get_current_pid_tgid();

	if (cfg.n_pids && !IN_SET((u32)(id >> 32), cfg.pids, cfg.n_pids))
		return false;
	if (cfg.n_tids && !IN_SET((u32)id, cfg.tids, cfg.n_tids))
		return false;
	if (cfg.n_uids && !IN_SET((u32)bpf_get_current_uid_gid(), cfg.uids, cfg.n_uids))
		return false;
	if (cfg.n_comms) {
		bpf_get_current_comm(comm, sizeof(comm));
		return comm_wanted(comm);
	}
	return true;
}

/* The socket filters but the ports, on an event whose socket fields are filled in. */
static __always_inline bool pass_socket_kind(const struct event *e)
{
	if (cfg.n_families && !IN_SET(e->family, cfg.families, cfg.n_families))
		return false;
	if (cfg.n_protocols && !IN_SET(e->protocol, cfg.protocols, cfg.n_protocols))
		return false;
	if (cfg.n_types && !IN_SET(e->type, cfg.types, cfg.n_types))
		return false;
	return true;
}

/* The port filter: the socket's own ports, local or remote. */
static __always_inline bool pass_ports(const struct event *e)
{
	return !cfg.n_ports || (e->addr_family && (IN_SET(e->lport, cfg.ports, cfg.n_ports) ||
						   IN_SET(e->rport, cfg.ports, cfg.n_ports)));
}

/* Socket filters, on an event whose socket fields are filled in. */
static __always_inline bool pass_socket(const struct event *e)
{
	return pass_socket_kind(e) && pass_ports(e);
}

/* Whether socket.close[.return] is asked for (releases have no result to fail). */
static __always_inline bool close_wanted(void)
{
	return (wanted(PROBE_CLOSE) || wanted(PROBE_CLOSE_RETURN)) && !cfg.failed_only;
}

static __always_inline bool create_wanted(void)
{
	return wanted(PROBE_CREATE) || wanted(PROBE_CREATE_RETURN);
}

#endif
