"""UDP round trips over loopback as a process of its own, for socktap's CLI
tests that need processes apart from the test's (pid filters, top's rows).

    udp_rounds.py COMM ROUNDS SIZE [--hold]

It names itself COMM, and with --hold waits for a line on stdin first, so
that a test can start socktap with this process's pid before any traffic.
Then it sends ROUNDS datagrams of SIZE bytes from one socket to another and
receives each: ROUNDS sends and ROUNDS receives, SIZE bytes each. It prints
"done" and waits for stdin to close, so that its pid stays its own (and its
row in top stays) until the test lets it go.
"""
import ctypes
import socket
import sys

comm, rounds, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ctypes.CDLL(None).prctl(15, comm.encode(), 0, 0, 0)  # PR_SET_NAME
if "--hold" in sys.argv[4:]:
    sys.stdin.readline()

rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
rx.bind(("127.0.0.1", 0))
tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(rounds):
    assert tx.sendto(b"u" * size, rx.getsockname()) == size
    assert len(rx.recv(size)) == size
print("done", flush=True)
sys.stdin.read()
