#!/usr/bin/env python3
"""Seed 003's file upload server, the baseline of scripts/bench-file.sh.

Usage: seed_file_server.py HOST PORT OUTDIR [BUFSIZE]

The tutorial's loop as written: recv(4), struct.unpack('i'), the JSON
header from one recv(dic_len), then recv(BUFSIZE) into the file until
file_size bytes have arrived. BUFSIZE is the tutorial's 1024 unless given,
so the headline figure is the tutorial's server, not a tuned one.

Like the tutorial it trusts the header: file_name is joined to OUTDIR
unchecked (an absolute name or "../" writes anywhere), nothing limits
file_size, and the file is never fsynced, so "complete" means complete in
the page cache, not on disk. The changes only make it runnable unattended:
address and directory from the command line, SO_REUSEADDR, a connection
closed when the client leaves, and a stop at EOF mid-file, where the
tutorial's loop would spin forever on empty recv() results.
"""

import json
import os
import socket
import struct
import sys


def main():
    if len(sys.argv) not in (4, 5):
        sys.exit(__doc__.strip().splitlines()[2])
    host, port, outdir = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    buffer_size = int(sys.argv[4]) if len(sys.argv) == 5 else 1024

    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((host, port))
    server.listen(5)

    while True:
        conn, addr = server.accept()
        while True:
            try:
                header = conn.recv(4)
                if len(header) == 0:
                    break
                dic_len = struct.unpack('i', header)[0]

                real_dic = json.loads(conn.recv(dic_len).decode('utf-8'))
                print(real_dic, flush=True)
                file_name = real_dic.get('file_name')
                file_size = real_dic.get('file_size')
                recv_size = 0
                with open(os.path.join(outdir, file_name), 'wb') as f:
                    while recv_size < file_size:
                        recv_data = conn.recv(buffer_size)
                        if not recv_data:
                            raise ConnectionResetError('EOF before file_size bytes')
                        f.write(recv_data)
                        recv_size += len(recv_data)
            except ConnectionResetError as e:
                print('connection ended:', e, flush=True)
                break
        conn.close()


if __name__ == '__main__':
    main()
