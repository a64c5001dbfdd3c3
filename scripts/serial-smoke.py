#!/usr/bin/env python3
"""serial-smoke.py COMMAND... — runs `COMMAND` (an edge-agent run, perhaps
under qemu-user) with its console and firmware bridge on two kernel
pseudo-terminals, then: logs in on the console, asks `version`, sends a line
from the "microcontroller" and checks with `services` that the bridge
published it. Stops the agent with SIGTERM and exits non-zero on any
mismatch. Prints the console's `version` answer."""
import os, select, signal, subprocess, sys, tempfile, time


def pty_at(path):
    master, slave = os.openpty()
    os.symlink(os.ttyname(slave), path)
    return master, slave


def expect(fd, want, timeout=60):
    got = b""
    deadline = time.monotonic() + timeout
    while want not in got:
        left = deadline - time.monotonic()
        if left <= 0:
            sys.exit(f"serial-smoke: waited {timeout}s for {want!r}; read {got!r}")
        r, _, _ = select.select([fd], [], [], left)
        if r:
            got += os.read(fd, 4096)
    return got.decode("utf-8", "replace")


def main():
    d = tempfile.mkdtemp()
    console, _cs = pty_at(os.path.join(d, "console"))
    mcu, _ms = pty_at(os.path.join(d, "mcu"))
    env = dict(os.environ, EDGE_CONSOLE_PORT=os.path.join(d, "console"), EDGE_CONSOLE_PASSWORD="smoke",
               EDGE_FIRMWARE_PORT=os.path.join(d, "mcu"), EDGE_DEVICE_ID="smoke")
    agent = subprocess.Popen(sys.argv[1:], env=env, stderr=subprocess.DEVNULL)
    try:
        expect(console, b"Password: ")
        os.write(console, b"smoke\r")
        expect(console, b"smoke> ")
        os.write(console, b"versiom\x7fn\r")
        version = expect(console, b"smoke> ")
        if "edge-agent" not in version:
            sys.exit(f"serial-smoke: version answered {version!r}")
        os.write(mcu, b"temp=21.5\r\n")
        deadline = time.monotonic() + 60
        while True:
            os.write(console, b"services\r")
            services = expect(console, b"smoke> ")
            if "rx_published=1" in services:
                break
            if time.monotonic() > deadline:
                sys.exit(f"serial-smoke: the line was not published: {services!r}")
            time.sleep(0.2)
    finally:
        agent.send_signal(signal.SIGTERM)
        rc = agent.wait(timeout=60)
    if rc != 0:
        sys.exit(f"serial-smoke: agent exited {rc} after SIGTERM")
    print(version.split("\r\n")[1])


main()
