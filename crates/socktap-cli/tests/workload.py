"""A loopback workload with known figures, for socktap's CLI tests.

It names itself (comm) so the tracer can select it, makes UDP, TCP and UNIX
traffic through every syscall path, and prints what it did as JSON: the
sends and receives per path with their sizes, and how many sockets it
created and closed. Numeric addresses only: no name lookups, which would
open sockets of their own.
"""
import ctypes
import json
import os
import socket
import sys

PR_SET_NAME = 15
ctypes.CDLL(None).prctl(PR_SET_NAME, sys.argv[1].encode() if len(sys.argv) > 1 else b"stwork", 0, 0, 0)

did = {"send": [], "receive": [], "created": 0, "closed": 0}


def sent(path, n):
    did["send"].append([path, n])


def received(path, n):
    did["receive"].append([path, n])


def new(*args):
    did["created"] += 1
    return socket.socket(*args)


# UDP: sendto / recvfrom, send / recv, sendmsg / recvmsg
rx = new(socket.AF_INET, socket.SOCK_DGRAM)
rx.bind(("127.0.0.1", 0))
tx = new(socket.AF_INET, socket.SOCK_DGRAM)
sent("socket.sendmsg.return", tx.sendto(b"a" * 10, rx.getsockname()))
received("socket.recvmsg.return", len(rx.recvfrom(100)[0]))
tx.connect(rx.getsockname())
sent("socket.sendmsg.return", tx.send(b"b" * 20))
received("socket.recvmsg.return", len(rx.recv(100)))
sent("socket.sendmsg.return", tx.sendmsg([b"c" * 5, b"d" * 25]))
received("socket.recvmsg.return", len(rx.recvmsg(100)[0]))

# TCP: write / read, writev / readv
ls = new(socket.AF_INET, socket.SOCK_STREAM)
ls.bind(("127.0.0.1", 0))
ls.listen()
c = new(socket.AF_INET, socket.SOCK_STREAM)
c.connect(ls.getsockname())
a, _ = ls.accept()  # accepted: no socket.create, but a close later
sent("socket.aio_write.return", os.write(c.fileno(), b"e" * 1000))
received("socket.aio_read.return", len(os.read(a.fileno(), 1000)))
sent("socket.writev.return", os.writev(c.fileno(), [b"f" * 300, b"g" * 200]))
buf1, buf2 = bytearray(250), bytearray(250)
received("socket.readv.return", os.readv(a.fileno(), [buf1, buf2]))

# UNIX stream pair
u1, u2 = socket.socketpair()
did["created"] += 2
sent("socket.sendmsg.return", u1.send(b"h" * 77))
received("socket.recvmsg.return", len(u2.recv(100)))

for s in (rx, tx, ls, c, a, u1, u2):
    s.close()
    did["closed"] += 1

print(json.dumps(did))
