# The client of the seed tutorial's UDP time server (seed 002): each line
# typed is sent as a strftime format (an empty one asks for the server's
# default), the reply read with recvfrom(1024) and printed. Unchanged on
# the wire; the port comes from argv, the input prompt is left out of the
# output, and the loop ends with stdin because the tutorial's never does.
import sys
from socket import *

ip_port = ("127.0.0.1", int(sys.argv[1]))
buffer_size = (1024)
user_clint = socket(AF_INET, SOCK_DGRAM)
user_clint.settimeout(10)

while True:
    try:
        use_choose = input().strip()
    except EOFError:
        break
    user_clint.sendto(use_choose.encode("utf-8"), ip_port)

    date, addr = user_clint.recvfrom(buffer_size)
    print(date.decode("utf-8"))
