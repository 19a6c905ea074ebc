#!/usr/bin/env python3
"""The endpoints of the scale benchmark, inside its namespace: an open
listener on 127.0.0.1:443 (accepts and closes), nothing on 127.0.0.2:443
(the kernel answers RST) and a listener on 127.0.0.3:443 whose accept queue
is full, so further SYNs are dropped (a filtered port). Prints "ready" when
all are up, then serves until killed."""

import socket
import sys
import threading


def open_listener():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 443))
    s.listen(4096)

    def serve():
        while True:
            conn, _ = s.accept()
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    return s


def filtered_listener():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.3", 443))
    s.listen(0)
    # Fill the accept queue (never accepted): from then on SYNs are dropped.
    held = []
    for _ in range(4):
        c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        c.setblocking(False)
        try:
            c.connect(("127.0.0.3", 443))
        except BlockingIOError:
            pass
        held.append(c)
    return s, held


if __name__ == "__main__":
    keep = [open_listener(), filtered_listener()]
    print("ready", flush=True)
    sys.stdin.read()
