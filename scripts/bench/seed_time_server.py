"""The seed tutorial's strftime-over-UDP time server, kept as a benchmark
baseline for the agent's text time service.

Usage: seed_time_server.py HOST PORT

A datagram is a time.strftime() format and the reply is the server's local
time in that format; an empty datagram gets "%Y-%m-%d-%X". The program is
the tutorial's, names and typos included, with two deliberate changes:

- The address comes from the command line instead of the fixed
  127.0.0.1:8080, so the benchmark can pick a free port.
- No print() per request: on a benchmark the terminal I/O would dominate
  and we would be measuring print(), not the server.
"""

from socket import *
import time
import sys

if len(sys.argv) != 3:
    sys.exit("usage: seed_time_server.py HOST PORT")

ip_port = (sys.argv[1], int(sys.argv[2]))
buffer_size = (1024)
servier_clint = socket(AF_INET,SOCK_DGRAM)
servier_clint.bind(ip_port)
while True:
    date,addr=servier_clint.recvfrom(buffer_size)
    if not date:
        fmt = "%Y-%m-%d-%X"
    else:
        fmt = date.decode("utf-8")
    date = time.strftime(fmt)
    servier_clint.sendto(date.encode("utf-8"),addr)
