#!/usr/bin/env python3
"""UDP echo and probe for the network-emulation tests (run inside pod network namespaces).

  probe.py echo PORT                      answer every datagram on PORT (IPv4 and IPv6)
  probe.py send HOST PORT COUNT INTERVAL [SOURCE]
                                          send COUNT probes (from SOURCE, if given), print one
                                          JSON line of results

The probe sends numbered datagrams at a fixed interval and waits 1.5 s after the last one; the
result lists every round-trip time in ms (null for a lost probe) with mean, sd and the loss count.
"""
import json
import math
import select
import socket
import struct
import sys
import time


def echo(port):
    sockets = []
    for family, address in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
        s = socket.socket(family, socket.SOCK_DGRAM)
        if family == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind((address, port))
        sockets.append(s)
    while True:
        ready, _, _ = select.select(sockets, [], [])
        for s in ready:
            data, peer = s.recvfrom(2048)
            s.sendto(data, peer)


def send(host, port, count, interval, source=None):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_DGRAM)
    if source:
        s.bind((source, 0))
    s.setblocking(False)
    sent = {}
    rtts = [None] * count
    start = time.monotonic()
    next_send = start
    i = 0
    deadline = None
    while True:
        now = time.monotonic()
        if i < count and now >= next_send:
            s.sendto(struct.pack("!Id", i, now), (host, port))
            sent[i] = now
            i += 1
            next_send = start + i * interval
            if i == count:
                deadline = now + 1.5
        if deadline is not None and now >= deadline:
            break
        wait = (next_send if i < count else deadline) - time.monotonic()
        ready, _, _ = select.select([s], [], [], max(0.0, wait))
        if ready:
            while True:
                try:
                    data = s.recv(2048)
                except BlockingIOError:
                    break
                seq, stamp = struct.unpack("!Id", data[:12])
                if seq < count and rtts[seq] is None:
                    rtts[seq] = (time.monotonic() - stamp) * 1e3
    got = [r for r in rtts if r is not None]
    mean = sum(got) / len(got) if got else None
    sd = math.sqrt(sum((r - mean) ** 2 for r in got) / (len(got) - 1)) if len(got) > 1 else None
    print(json.dumps({"sent": count, "lost": count - len(got), "mean": mean, "sd": sd,
                      "min": min(got) if got else None, "max": max(got) if got else None, "rtts": rtts}))


if __name__ == "__main__":
    if sys.argv[1] == "echo":
        echo(int(sys.argv[2]))
    else:
        send(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]),
             sys.argv[6] if len(sys.argv) > 6 else None)
