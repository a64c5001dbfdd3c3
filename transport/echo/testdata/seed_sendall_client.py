# The client of the seed tutorial's socketserver.TCPServer example (seed 001):
# one sendall of "hello\n" and one recv(1024). The port comes from argv.
import socket
import sys

HOST, PORT = "127.0.0.1", int(sys.argv[1])
data = "hello"
# 创建一个socket链接,SOCK_STREAM代表使用TCP协议
with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
    sock.connect((HOST, PORT))  # 链接到客户端
    sock.sendall(bytes(data + "\n", "utf-8"))  # 向服务端发送数据
    received = str(sock.recv(1024), "utf-8")  # 从服务端接收数据
print("Sent: {}".format(data))
print("Received: {}".format(received))
