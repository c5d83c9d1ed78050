/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The few kernel types socktap reads, declared with only the fields it uses.
 *
 * preserve_access_index makes every field access a CO-RE relocation: libbpf
 * rewrites the offsets at load time from the running kernel's BTF, so these
 * declarations need the right field names and types, not the right layout.
 * This replaces a multi-megabyte vmlinux.h.
 */
#ifndef SOCKTAP_KERNEL_H
#define SOCKTAP_KERNEL_H

/* Tells bpf_tracing.h these are the kernel's pt_regs names (di, not rdi). */
#define __VMLINUX_H__

#include <linux/types.h>
#include <linux/bpf.h>

typedef __s8 s8;
typedef __u8 u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __u64 u64;
typedef __s32 s32;
typedef __s64 s64;
typedef _Bool bool;
typedef unsigned long size_t;
#define true 1
#define false 0

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

typedef struct {
	int counter;
} atomic_t;

typedef struct {
	s64 counter;
} atomic64_t;

typedef struct {
	long counter;
} atomic_long_t;

/* 6.13+: struct file counts references in f_ref, where 0 means one reference. */
typedef struct {
	atomic64_t refcnt;
} file_ref_t;

struct inode {
	unsigned short i_mode;
	unsigned long i_ino;
};

struct file {
	struct inode *f_inode;
	void *private_data;
	file_ref_t f_ref;
};

/* Before 6.13 the reference count was a plain atomic_long_t. */
struct file___old {
	atomic_long_t f_count;
};

struct fdtable {
	unsigned int max_fds;
	struct file **fd;
};

struct files_struct {
	atomic_t count;
	struct fdtable *fdt;
};

/* The task's credentials and cgroups, read directly where the task is a BTF pointer. */
typedef struct {
	unsigned int val;
} kuid_t;

struct cred {
	kuid_t uid;
};

struct kernfs_node {
	u64 id;
};

struct cgroup {
	struct kernfs_node *kn;
};

struct css_set {
	struct cgroup *dfl_cgrp;
};

struct task_struct {
	void *stack;
	unsigned int flags;
	int pid;
	int tgid;
	char comm[16];
	const struct cred *cred;
	struct css_set *cgroups;
	struct files_struct *files;
};

struct pt_regs {
	unsigned long bp;
	unsigned long ax;
	unsigned long cx;
	unsigned long ip;
	unsigned long sp;
	unsigned long r10;
	unsigned long r8;
	unsigned long r9;
	unsigned long dx;
	unsigned long si;
	unsigned long di;
	unsigned long orig_ax;
};

/* A socket and its inode are allocated together: SOCK_INODE(). */
struct socket_alloc;

struct in6_addr {
	u8 s6_addr[16];
};

struct sock_common {
	atomic64_t skc_cookie;
	__be32 skc_daddr;
	__be32 skc_rcv_saddr;
	__be16 skc_dport;
	__u16 skc_num;
	unsigned short skc_family;
	struct in6_addr skc_v6_daddr;
	struct in6_addr skc_v6_rcv_saddr;
};

struct proto_ops {
	int family;
};

struct socket;

struct sock {
	struct sock_common __sk_common;
	u16 sk_protocol;
	u16 sk_type;
	struct socket *sk_socket;
};

/* An enum in the kernel: CO-RE matches field types by kind, so not an int. */
typedef enum {
	SS_FREE = 0,
} socket_state;

struct socket {
	socket_state state;
	short type;
	unsigned long flags;
	struct file *file;
	struct sock *sk;
	const struct proto_ops *ops;
};

struct ns_common {
	unsigned int inum;
};

struct net {
	struct ns_common ns;
};

typedef struct {
	struct net *net;
} possible_net_t;

struct net_device {
	char name[16];
	int ifindex;
	possible_net_t nd_net;
};

struct sk_buff {
	unsigned int len;
	struct net_device *dev;
};

struct socket_alloc {
	struct socket socket;
	struct inode vfs_inode;
};

/* INET and INET6 sockets start with struct sock inside a struct inet_sock. */
struct inet_sock {
	__be16 inet_sport;
};

#pragma clang attribute pop

/* x86_64 kernel stacks: task_pt_regs() sits at the top (no KASAN). */
#define THREAD_SIZE (4096 << 2)

/* User-space ABI structures: fixed layouts, read with bpf_probe_read_user. */
struct user_iovec {
	u64 iov_base;
	u64 iov_len;
};

struct user_msghdr {
	u64 msg_name;
	int msg_namelen;
	u64 msg_iov;
	u64 msg_iovlen;
	u64 msg_control;
	u64 msg_controllen;
	unsigned int msg_flags;
};

struct user_mmsghdr {
	struct user_msghdr msg_hdr;
	unsigned int msg_len;
};

#define PF_KTHREAD 0x00200000
#define PF_IO_WORKER 0x00000010
#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define MSG_PEEK 2
#define SOCK_TYPE_MASK 0xf
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#define EFAULT 14

#endif
