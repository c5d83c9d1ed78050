/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The x86_64 syscalls that move data on sockets or create and release
 * them, and the one table that says, for each, which probes it feeds and
 * where its arguments are. Every backend asks this table: the syscall
 * layer for entries and results, the message hooks for which tapset path
 * a message took.
 */
#ifndef SOCKTAP_SYSCALLS_BPF_H
#define SOCKTAP_SYSCALLS_BPF_H

enum {
	NR_read = 0,
	NR_write = 1,
	NR_close = 3,
	NR_pread64 = 17,
	NR_pwrite64 = 18,
	NR_readv = 19,
	NR_writev = 20,
	NR_dup2 = 33,
	NR_sendfile = 40,
	NR_socket = 41,
	NR_sendto = 44,
	NR_recvfrom = 45,
	NR_sendmsg = 46,
	NR_recvmsg = 47,
	NR_socketpair = 53,
	NR_splice = 275,
	NR_dup3 = 292,
	NR_preadv = 295,
	NR_pwritev = 296,
	NR_recvmmsg = 299,
	NR_sendmmsg = 307,
	NR_preadv2 = 327,
	NR_pwritev2 = 328,
	NR_close_range = 436,
};

#define MAX_IOV 64     /* iovec segments summed for an entry size */
#define MAX_MMSG 1024  /* UIO_MAXIOV: the kernel's cap on vlen */
#define MAX_FDS 65536  /* descriptors scanned at exit / close_range */
/*
 * Where the kernel has no bpf_loop (< 5.17), loops are unrolled by the
 * verifier, whose limits bound them: messages of one sendmmsg/recvmmsg
 * (each summing up to OLD_MMSG_IOV segments) and descriptors scanned at
 * close_range/exit.
 */
#define OLD_MMSG_MAX 16
#define OLD_MMSG_IOV 8
#define OLD_FDS_MAX 256

/* What a syscall does to sockets. */
enum sys_kind {
	SYS_OTHER,  /* nothing socktap follows */
	SYS_IO,     /* moves data: an entry probe, and messages under one path */
	SYS_CREATE, /* socket, socketpair */
	SYS_CLOSE,  /* close, dup2, dup3, close_range */
};

/* How an entry probe finds the size requested. */
enum size_from {
	SIZE_ARG,    /* the argument size_arg is the byte count */
	SIZE_IOVEC,  /* the sum of an iovec array: size_arg, count_arg segments */
	SIZE_MSGHDR, /* the sum of the iovec of the msghdr at size_arg */
	SIZE_MMSG,   /* one entry per msghdr of the mmsghdr vector size_arg, count_arg long */
};

struct sys_row {
	u8 kind;      /* enum sys_kind */
	u8 entry;     /* SYS_IO: the entry probe */
	u8 path;      /* SYS_IO: the .return path of messages moved inside this call */
	bool result;  /* SYS_IO: the syscall backend reports the call's result under path */
	u8 fd_arg;    /* the argument holding the socket's descriptor */
	u8 size_from; /* enum size_from */
	u8 size_arg;
	u8 count_arg;
	s8 flags_arg; /* the argument holding MSG_* flags, -1 if none */
};

#define IO_ROW(entry, path, result, fd, from, size, count, flags) \
	((struct sys_row){ SYS_IO, entry, path, result, fd, from, size, count, flags })

/*
 * The table. splice is left out of the syscall backend's results on
 * purpose: its descriptor pair can be pipe-to-socket or socket-to-pipe,
 * and that backend documents splice as not seen (coverage.rs). Its
 * messages still reach the message hooks, under socket.sendmsg.return.
 */
static __always_inline struct sys_row sys_row(long nr)
{
	switch (nr) {
	/*                                   entry            .return path           result fd size from    size count flags */
	case NR_write:
	case NR_pwrite64:   return IO_ROW(PROBE_AIO_WRITE, PROBE_AIO_WRITE_RETURN, true,  0, SIZE_ARG,    2, 0, -1);
	case NR_read:
	case NR_pread64:    return IO_ROW(PROBE_AIO_READ,  PROBE_AIO_READ_RETURN,  true,  0, SIZE_ARG,    2, 0, -1);
	case NR_writev:
	case NR_pwritev:
	case NR_pwritev2:   return IO_ROW(PROBE_WRITEV,    PROBE_WRITEV_RETURN,    true,  0, SIZE_IOVEC,  1, 2, -1);
	case NR_readv:
	case NR_preadv:
	case NR_preadv2:    return IO_ROW(PROBE_READV,     PROBE_READV_RETURN,     true,  0, SIZE_IOVEC,  1, 2, -1);
	case NR_sendto:     return IO_ROW(PROBE_SENDMSG,   PROBE_SENDMSG_RETURN,   true,  0, SIZE_ARG,    2, 0, -1);
	case NR_recvfrom:   return IO_ROW(PROBE_RECVMSG,   PROBE_RECVMSG_RETURN,   true,  0, SIZE_ARG,    2, 0, 3);
	case NR_sendmsg:    return IO_ROW(PROBE_SENDMSG,   PROBE_SENDMSG_RETURN,   true,  0, SIZE_MSGHDR, 1, 0, -1);
	case NR_recvmsg:    return IO_ROW(PROBE_RECVMSG,   PROBE_RECVMSG_RETURN,   true,  0, SIZE_MSGHDR, 1, 0, 2);
	case NR_sendmmsg:   return IO_ROW(PROBE_SENDMSG,   PROBE_SENDMSG_RETURN,   true,  0, SIZE_MMSG,   1, 2, -1);
	case NR_recvmmsg:   return IO_ROW(PROBE_RECVMSG,   PROBE_RECVMSG_RETURN,   true,  0, SIZE_MMSG,   1, 2, 3);
	/* sendfile(out_fd, in_fd, offset, count) */
	case NR_sendfile:   return IO_ROW(PROBE_SENDMSG,   PROBE_SENDMSG_RETURN,   true,  0, SIZE_ARG,    3, 0, -1);
	/* splice(fd_in, off_in, fd_out, off_out, len, flags) */
	case NR_splice:     return IO_ROW(PROBE_SENDMSG,   PROBE_SENDMSG_RETURN,   false, 2, SIZE_ARG,    4, 0, -1);
	case NR_socket:
	case NR_socketpair: return (struct sys_row){ .kind = SYS_CREATE };
	case NR_close:
	case NR_dup2:
	case NR_dup3:
	case NR_close_range: return (struct sys_row){ .kind = SYS_CLOSE };
	default:            return (struct sys_row){ .kind = SYS_OTHER };
	}
}

/* Argument i of a syscall, from the registers saved at its entry (x86_64 ABI). */
static __always_inline u64 sys_arg(struct pt_regs *regs, u32 i)
{
	switch (i) {
	case 0:
		return BPF_CORE_READ(regs, di);
	case 1:
		return BPF_CORE_READ(regs, si);
	case 2:
		return BPF_CORE_READ(regs, dx);
	case 3:
		return BPF_CORE_READ(regs, r10);
	case 4:
		return BPF_CORE_READ(regs, r8);
	default:
		return BPF_CORE_READ(regs, r9);
	}
}

/* The syscall the current thread is in, -1 for kernel threads and io_uring workers. */
static __always_inline long current_syscall(void)
{
	struct task_struct *task;
	struct pt_regs *regs;

	if (bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_task_pt_regs)) {
		/* 5.15+: the task and its registers as BTF pointers, read directly */
		task = bpf_get_current_task_btf();
		if (task->flags & (PF_KTHREAD | PF_IO_WORKER))
			return -1;
		regs = (struct pt_regs *)bpf_task_pt_regs(task);
		return regs->orig_ax;
	}
	task = (struct task_struct *)bpf_get_current_task();
	if (BPF_CORE_READ(task, flags) & (PF_KTHREAD | PF_IO_WORKER))
		return -1;
	/* before 5.15: task_pt_regs() by hand, at the top of the stack */
	regs = (struct pt_regs *)((void *)BPF_CORE_READ(task, stack) + THREAD_SIZE -
				  bpf_core_type_size(struct pt_regs));
	return BPF_CORE_READ(regs, orig_ax);
}

/* Whether a probe is on the sending side: sendmsg, aio_write, writev and their returns. */
static __always_inline bool probe_sends(u32 probe)
{
	return ((probe >> 1) & 1) == 0 && probe < PROBE_CREATE;
}

/*
 * Which tapset path a message took, from the syscall the thread is in.
 * Kernel threads and io_uring workers have no syscall: their messages are
 * socket-call messages (sendmsg/recvmsg), as are sendfile, splice and
 * io_uring submissions.
 */
static __always_inline u32 message_path(bool send)
{
	struct sys_row row = sys_row(current_syscall());

	if (row.kind == SYS_IO && probe_sends(row.path) == send)
		return row.path;
	return send ? PROBE_SENDMSG_RETURN : PROBE_RECVMSG_RETURN;
}

#endif
