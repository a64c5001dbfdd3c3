"""The seed tutorial's threaded echo server, kept as a benchmark baseline.

Usage: seed_echo_server.py HOST PORT

It follows the tutorial's socketserver.ThreadingTCPServer program (one OS
thread per connection) with its typos fixed and these deliberate changes:

- No print per message: on a benchmark the terminal I/O would dominate and
  we would be measuring print(), not the server.
- sendall() instead of send(): send() may write only part of the reply, and a
  client waiting for the full echo would then time out.
- ConnectionError instead of ConnectionResetError: a client that closes
  while a reply is in flight raises BrokenPipeError too, and the tutorial's
  handler would dump a traceback for each such connection.
- request_queue_size = 1024 (the library default is 5) so that bursts of
  connects are not refused or delayed by the listen backlog; the benchmark
  measures the server, not the backlog.
- The descriptor soft limit is raised to the hard limit so thousands of idle
  connections are limited by memory rather than by the default of 1024.
"""

import resource
import socketserver
import sys


class MyTCPhandler(socketserver.BaseRequestHandler):
    def handle(self):
        while True:
            try:
                data = self.request.recv(1024)
                if len(data) == 0:
                    break
                self.request.sendall(data.upper())
            except ConnectionError:
                break
        self.request.close()


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 1024


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError) as e:
            print(f"raising RLIMIT_NOFILE: {e}", file=sys.stderr)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: seed_echo_server.py HOST PORT")
    raise_nofile()
    host, port = sys.argv[1], int(sys.argv[2])
    with Server((host, port), MyTCPhandler) as server:
        server.serve_forever()


if __name__ == "__main__":
    main()
