#!/bin/bash
# Builds the minimal tp_btf programs that give the per-message floor on sock_send_length:
# empty, cnt (per-CPU array), perpid (per-CPU hash by pid), fields (every event field, no output),
# ring (every field into a ring buffer read by a trivial consumer), f_* (one helper each). Into $1.
set -e
src=$(cd "$(dirname "$0")" && pwd); dst=$1; mkdir -p "$dst"
for p in clang bpftool libbpf-dev; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || apt-get install -y -qq "$p" >/dev/null 2>&1; done
cd "$dst"
[ -s vmlinux.h ] || bpftool btf dump file /sys/kernel/btf/vmlinux format c >vmlinux.h
cp "$src"/*.c .
clang -O2 -g -target bpf -c floor.bpf.c -o floor.bpf.o
cc -O2 loader.c -o loader -lbpf && cc -O2 ringloader.c -o ringloader -lbpf
