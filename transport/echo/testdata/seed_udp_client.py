# The UDP client of the seed tutorial's socketserver example (seed 000):
# sendto b'hello', recvfrom(1024), print. The tutorial's `client.recvfrom`
# typo is fixed (it names clientSock); the address and the number of rounds
# come from argv because the tutorial's loop never ends.
import sys
from socket import *

clientSock = socket(AF_INET, SOCK_DGRAM)
clientSock.settimeout(10)

for _ in range(int(sys.argv[2])):
    clientSock.sendto(b'hello', ('127.0.0.1', int(sys.argv[1])))
    data, server_addr = clientSock.recvfrom(1024)
    print(data)
