/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one event definition shared by the BPF programs and Rust: libbpf-cargo
 * emits it into the skeleton's `types` module, and the Rust side decodes ring
 * buffer records with it. Change it here only.
 */
#ifndef SOCKTAP_H
#define SOCKTAP_H

/*
 * Kernel-side probe identities. An entry probe is even, its .return is the
 * next odd number. The aliases socket.send/socket.receive are resolved in
 * user space from the four send/receive .return probes.
 */
enum probe_id {
	PROBE_SENDMSG = 0,
	PROBE_SENDMSG_RETURN = 1,
	PROBE_RECVMSG = 2,
	PROBE_RECVMSG_RETURN = 3,
	PROBE_AIO_WRITE = 4,
	PROBE_AIO_WRITE_RETURN = 5,
	PROBE_AIO_READ = 6,
	PROBE_AIO_READ_RETURN = 7,
	PROBE_WRITEV = 8,
	PROBE_WRITEV_RETURN = 9,
	PROBE_READV = 10,
	PROBE_READV_RETURN = 11,
	PROBE_CREATE = 12,
	PROBE_CREATE_RETURN = 13,
	PROBE_CLOSE = 14,
	PROBE_CLOSE_RETURN = 15,
	PROBE_COUNT = 16,
};

/*
 * Sizes both sides depend on. An enum, not #defines, so that they reach the
 * skeleton and Rust reads them from there instead of repeating them.
 */
enum socktap_limits {
	TASK_COMM_LEN = 16,       /* bytes of a command name, with its NUL */
	MAX_FILTER = 8,           /* values of one filter kind */
	HIST_BUCKETS = 32,        /* log2 size buckets */
	DEFAULT_ROWS = 10240,     /* rows of the counting maps unless resized */
	MAX_CALLS_IN_FLIGHT = 16384, /* threads between a call's entry and its return */
};

/* Which addresses an event carries (event.addr_family). */
enum addr_family {
	ADDR_NONE = 0,
	ADDR_INET = 2,   /* AF_INET */
	ADDR_INET6 = 10, /* AF_INET6 */
};

/*
 * Why an event was not delivered or counted: one per-CPU counter each, so
 * a user can tell which size to raise.
 */
enum loss_reason {
	LOSS_RING_FULL = 0,  /* trace: the ring buffer had no room (its size: --buffer-kib) */
	LOSS_CALLS_FULL = 1, /* a call's .return could not be followed: MAX_CALLS_IN_FLIGHT threads were mid-call */
	LOSS_ROWS_FULL = 2,  /* counting: no room for a new row (the row capacity: --capacity, --max-series) */
	LOSS_LOOP_BOUND = 3, /* messages of a sendmmsg/recvmmsg beyond what a kernel without bpf_loop can walk */
	LOSS_REASONS = 4,
};

struct event {
	__u64 ts_ns;      /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u64 cookie;     /* socket cookie, 0 where it cannot be had */
	__u64 cgroup;     /* cgroup v2 id of the task */
	__u64 sock_flags; /* socket->flags */
	__s64 size;       /* entry: bytes requested; .return: bytes moved or -errno */
	__u32 ino;        /* socket inode number (socket:[ino]), 0 if none */
	__u32 pid;        /* tgid */
	__u32 tid;
	__u32 uid;        /* real uid */
	__s32 family;     /* -1 when there is no socket */
	__s32 protocol;
	__s32 state;
	__s32 type;
	__s32 err;        /* create.return: the creation's result */
	__u16 cpu;
	__u8 peek;        /* a MSG_PEEK receive (reported only when asked for) */
	__u8 _pad;
	__u16 probe;      /* enum probe_id */
	__u8 requester;   /* create: 1 kernel, 0 user */
	__u8 addr_family; /* enum addr_family: which addresses below are set */
	__u16 lport;      /* host byte order */
	__u16 rport;
	__u8 laddr[16];
	__u8 raddr[16];
	char comm[TASK_COMM_LEN];
};

/* Aggregation keys: which event fields a key keeps (the rest are zero). */
enum agg_key_bits {
	AGG_PID = 1 << 0,
	AGG_UID = 1 << 1,
	AGG_COMM = 1 << 2,
	AGG_CGROUP = 1 << 3,
	AGG_FAMILY = 1 << 4,
	AGG_PROTOCOL = 1 << 5,
	AGG_TYPE = 1 << 6,
	AGG_PORT = 1 << 7,
};

/*
 * A row's key. The maps hash and compare only the prefix up to the last
 * field the view keys by (user space sets their key size before load:
 * kernel/config.rs, agg_key_size), so the fields go from the most used to
 * the least, and are no wider than their values: `stat --by pid` hashes 8
 * bytes, socktop's pid, family and protocol 12. Hashing the key is most of
 * what a row costs the traced task beyond the lookup itself.
 */
struct agg_key {
	__u16 probe;    /* enum probe_id: always kept */
	__u16 port;     /* local port of INET/INET6 sockets */
	__u32 pid;
	__s16 family;   /* AF_*, -1 when there is no socket */
	__s16 protocol; /* IPPROTO_* (up to 262), -1 likewise */
	__s16 type;     /* SOCK_*, -1 likewise */
	__u16 _zero;    /* padding, always 0 */
	__u64 cgroup;
	__u32 uid;
	char comm[TASK_COMM_LEN];
};

/*
 * A row's counts, and what it carries without being keyed by it
 * (config.agg_carry): the uid and command as last seen on this CPU. A
 * view that shows one command per process (socktop) keys by pid and
 * carries the command, rather than hashing 16 more bytes per message.
 * The fields after `errors` exist in the map only when something is
 * carried (user space sets the value size before load).
 */
struct agg_value {
	__u64 count;  /* firings */
	__u64 bytes;  /* bytes moved (returns) or requested (entries) */
	__u64 errors; /* returns with a negative result */
	__u32 uid;
	char comm[TASK_COMM_LEN];
};

/* Log2 histogram of sizes: bucket 0 holds 0, bucket k holds [2^(k-1), 2^k). */
struct agg_hist {
	__u64 buckets[HIST_BUCKETS];
};

/*
 * Network devices (socktop -d). Each network namespace numbers its own
 * devices, so a device is its namespace's inode number and its ifindex.
 */
struct dev_key {
	__u32 netns;
	__u32 ifindex;
};

/* The device's name as the kernel had it at its first packet (dev_names). */
struct dev_name {
	char name[16];
};

struct dev_value {
	__u64 tx_packets;
	__u64 rx_packets;
	__u64 tx_bytes;
	__u64 rx_bytes;
};

/* Filters and options, written into .rodata before load. */
struct config {
	__u32 probe_mask;    /* bit (1 << probe_id) per wanted probe */
	__u32 aggregate;     /* 1: count into the agg maps instead of emitting */
	__u32 agg_keys;      /* enum agg_key_bits: what rows are keyed by */
	__u32 agg_carry;     /* AGG_UID, AGG_COMM: carried in the value, as last seen */
	__u32 hist;          /* 1: also fill agg_hist */
	__u32 syscall_create; /* 1: the syscall layer serves socket.create */
	__u32 syscall_close;  /* 1: the syscall layer serves socket.close */
	__u32 syscall_messages; /* 1: the syscall layer serves sends and receives */
	__u32 skip_classify;  /* 1: count every message under sendmsg/recvmsg.return */
	__u32 wakeup_bytes;  /* wake the reader once this much is pending */
	__u32 failed_only;
	__u32 succeeded_only;
	__u32 skip_peek;
	__u32 n_pids, n_tids, n_uids, n_comms;
	__u32 n_families, n_protocols, n_types, n_ports;
	__u32 n_cgroups;     /* entries of the cgroup_filter map in use */
	__u32 pids[MAX_FILTER];
	__u32 tids[MAX_FILTER];
	__u32 uids[MAX_FILTER];
	char comms[MAX_FILTER][TASK_COMM_LEN];
	__s32 families[MAX_FILTER];
	__s32 protocols[MAX_FILTER];
	__s32 types[MAX_FILTER];
	__u16 ports[MAX_FILTER];
};

#endif
