#!/usr/bin/env python3
"""Send files to an edge-agent file receiver, checked and acknowledged.

Usage: send_file.py [--token T] [--resume] [--as NAME] HOST PORT FILE...

The framing is the seed client's: a 4-byte little-endian length, a JSON
header, then the file's bytes. What this adds is opt-in, in the header: the
file's SHA-256 and "ack": true, to which the receiver answers with frames
of the same shape (length, then a JSON object). Sending "hello" as a.txt
(-> to the receiver, <- from it; sha256 shortened):

  -> 81 00 00 00                  struct.pack('<i', 129)
  -> {"file_name": "a.txt", "file_size": 5,
      "sha256": "2cf2...9824", "ack": true}
  <- 1d 00 00 00 {"status":"ready","offset":0}
  -> hello                        the file from byte "offset" on, unframed
  <- 88 00 00 00 {"status":"ok","file_name":"a.txt","size":5,
                  "sha256":"2cf2...9824","duration_ms":0}

"offset" is above 0 only for "resume": true (--resume), when the receiver
kept part of an interrupted upload of the same name, size and SHA-256; only
the rest is sent, and the "ok" says "resumed_from". The receiver may answer
{"status":"error","code":"bad_token","message":"..."} instead of "ready" or
"ok". Refused before the body, the connection carries on with the next
file; after the body, the receiver may have hung up, so the next file goes
on a new connection.

The token comes from --token or from the EDGE_FILE_TOKEN environment
variable, which, unlike the command line, other users cannot see in ps.
Exit status: 0 if every file was stored, 1 if any was not, 2 for bad usage.
"""

import argparse
import hashlib
import json
import os
import socket
import struct
import sys

# The receiver cuts a sender idle for 60 seconds; wait as long for it.
TIMEOUT = 60


def recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        part = sock.recv(n - len(buf))
        if not part:
            raise ConnectionError("the receiver closed the connection")
        buf += part
    return bytes(buf)


def read_frame(sock):
    (n,) = struct.unpack("<i", recv_exact(sock, 4))
    return json.loads(recv_exact(sock, n))


def send(sock, f, name, token, resume):
    """Send the open file f as name; return the last reply and whether the
    connection can carry another file."""
    # One open file for the hash and the body, so both see the same bytes
    # even if the path is replaced meanwhile.
    size = os.fstat(f.fileno()).st_size
    digest = hashlib.sha256()
    for block in iter(lambda: f.read(1 << 20), b""):
        digest.update(block)
    header = {"file_name": name, "file_size": size,
              "sha256": digest.hexdigest(), "ack": True}
    if resume:
        header["resume"] = True
    if token:
        header["token"] = token
    data = json.dumps(header).encode()
    sock.sendall(struct.pack("<i", len(data)) + data)

    ready = read_frame(sock)
    if ready["status"] != "ready":
        return ready, True
    offset = ready["offset"]
    if size > offset:
        # sendfile moves the bytes from the page cache to the socket
        # without copying them through Python.
        sock.sendfile(f, offset, size - offset)
    reply = read_frame(sock)
    return reply, reply["status"] == "ok"


def main():
    parser = argparse.ArgumentParser(
        description="Send files to an edge-agent file receiver.")
    parser.add_argument("--token", metavar="T",
                        help="the receiver's shared secret "
                        "(default: $EDGE_FILE_TOKEN)")
    parser.add_argument("--resume", action="store_true",
                        help="continue interrupted uploads where they ended")
    parser.add_argument("--as", dest="name", metavar="NAME",
                        help="store the file under NAME (one FILE only)")
    parser.add_argument("host", metavar="HOST")
    parser.add_argument("port", metavar="PORT", type=int)
    parser.add_argument("files", nargs="+", metavar="FILE")
    args = parser.parse_args()
    if args.name is not None and len(args.files) > 1:
        parser.error("--as names a single FILE")
    token = args.token or os.environ.get("EDGE_FILE_TOKEN", "")

    sock, failed = None, False
    for path in args.files:
        name = os.path.basename(path) if args.name is None else args.name
        try:
            with open(path, "rb") as f:
                if sock is None:
                    sock = socket.create_connection((args.host, args.port),
                                                    TIMEOUT)
                reply, in_step = send(sock, f, name, token, args.resume)
        except (OSError, ValueError) as e:  # ValueError: a reply not JSON
            reply, in_step = None, False
            print(f"{name}: failed: {e}")
        if reply is not None and reply["status"] == "ok":
            line = f"{name}: {reply['size']} bytes stored"
            line += f", sha256 {reply['sha256']}"
            if reply.get("resumed_from"):
                line += f", resumed from {reply['resumed_from']}"
            print(line)
        else:
            failed = True
            if reply is not None:
                print(f"{name}: refused: {reply['code']}: {reply['message']}")
        if not in_step and sock is not None:
            sock.close()
            sock = None
    if sock is not None:
        sock.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
