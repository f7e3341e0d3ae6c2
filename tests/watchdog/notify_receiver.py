#!/usr/bin/env python3
"""A stand-in for systemd's notify socket: receives the datagrams a service
sends to $NOTIFY_SOCKET and writes each as "<monotonic seconds> <payload>"
to a file, until it is killed. Usage: notify_receiver.py ADDRESS OUTFILE
(ADDRESS: a path, or @name for an abstract socket)."""
import socket
import sys
import time

address, outfile = sys.argv[1], sys.argv[2]
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind("\0" + address[1:] if address.startswith("@") else address)
with open(outfile, "a", buffering=1) as out:
    out.write("%.3f LISTENING\n" % time.monotonic())
    while True:
        data = sock.recv(4096).decode("utf-8", "replace")
        for line in data.split("\n"):
            if line:
                out.write("%.3f %s\n" % (time.monotonic(), line))
