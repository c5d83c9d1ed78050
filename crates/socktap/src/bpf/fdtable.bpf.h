/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The task's file descriptor table: from a descriptor to its file, its
 * socket, and how many references the file has left. The syscall layer
 * sees only descriptors; this is how it finds the socket behind one.
 */
#ifndef SOCKTAP_FDTABLE_BPF_H
#define SOCKTAP_FDTABLE_BPF_H

static __always_inline struct file *fd_file(struct task_struct *task, long fd)
{
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds;
	struct file *f = NULL;

	if (!fdt || fd < 0 || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

static __always_inline struct socket *file_socket(struct file *f)
{
	if (!f)
		return NULL;
	if ((BPF_CORE_READ(f, f_inode, i_mode) & S_IFMT) != S_IFSOCK)
		return NULL;
	return BPF_CORE_READ(f, private_data);
}

static __always_inline struct socket *fd_socket(long fd)
{
	return file_socket(fd_file((struct task_struct *)bpf_get_current_task(), fd));
}

/* How many references the file has: the socket goes when the last one does. */
static __always_inline long file_refs(struct file *f)
{
	if (bpf_core_field_exists(f->f_ref))
		return BPF_CORE_READ(f, f_ref.refcnt.counter) + 1;
	return BPF_CORE_READ((struct file___old *)f, f_count.counter);
}

#endif
