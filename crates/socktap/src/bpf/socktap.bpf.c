// SPDX-License-Identifier: GPL-2.0
/*
 * socktap's BPF programs: SystemTap's socket tapset on tracepoints, function
 * hooks and the syscall layer. One compilation unit, so one object and one
 * skeleton; each header below has one job, included in dependency order.
 *
 * The data path: a hook (a backend file) sees a message, a creation or a
 * release; the filters decide whether it is wanted; the event is filled
 * with the task's context and the socket's tapset variables; emit() sends
 * it to user space through the ring buffer, or counts it into its row of
 * the aggregation maps.
 *
 * Sends and receives come from sock:sock_send_length / sock_recv_length
 * (or the families' sendmsg/recvmsg where those tracepoints are missing),
 * which fire exactly once per message. The syscall the thread is in tells
 * which tapset probe the message belongs to (syscalls.bpf.h), so the four
 * send probes partition the sends and the four receive probes the
 * receives. Entry probes, and creation and release where no function hook
 * serves them, come from the syscall layer, which sees the descriptors.
 */
#include "kernel.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "socktap.h"

char LICENSE[] SEC("license") = "GPL";

/* Makes libbpf-cargo emit these types into the skeleton, for Rust to share. */
struct event _event = {};
struct agg_key _agg_key = {};
struct agg_value _agg_value = {};
struct agg_hist _agg_hist = {};
struct dev_value _dev_value = {};
enum probe_id _probe_id = 0;
enum agg_key_bits _agg_key_bits = 0;
enum loss_reason _loss_reason = 0;
enum socktap_limits _socktap_limits = 0;
enum addr_family _addr_family = 0;

/* Shared machinery. */
#include "maps.bpf.h"      /* maps, configuration, loss counters, loop() */
#include "syscalls.bpf.h"  /* the syscall table */
#include "fill.bpf.h"      /* task and socket fields */
#include "filter.bpf.h"    /* the user's filters */
#include "emit.bpf.h"      /* ring buffer or in-kernel aggregation */
#include "fdtable.bpf.h"   /* descriptor -> file -> socket */
#include "message.bpf.h"   /* one message, whichever hook saw it */

/* The backends: the loader attaches the programs of the ones it chose. */
#include "tracepoint.bpf.h"      /* messages: sock_*_length (6.3+) */
#include "syscall_sockets.bpf.h" /* creation and release by syscalls */
#include "syscall.bpf.h"         /* entries; messages as syscall results */
#include "function_hooks.bpf.h"  /* creation and release in kernel functions */
#include "fexit.bpf.h"           /* fentry/fexit programs */
#include "kprobe.bpf.h"          /* kprobe/kretprobe programs */
#include "devices.bpf.h"         /* network devices (socktop -d) */
