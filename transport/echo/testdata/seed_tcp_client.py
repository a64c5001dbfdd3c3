# The TCP client of the seed tutorial's socketserver example (seed 000):
# send b'hello', recv(1024), print. Unchanged on the wire; the address
# and the number of rounds come from argv because the tutorial's loop
# never ends.
import sys
from socket import *

clientSock = socket(AF_INET, SOCK_STREAM)
clientSock.connect(('127.0.0.1', int(sys.argv[1])))

# 通信循环
for _ in range(int(sys.argv[2])):
    clientSock.send(b'hello')
    data = clientSock.recv(1024)
    print(data)

clientSock.close()
