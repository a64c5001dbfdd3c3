# The upload client of the seed tutorial (seed 003): a struct.pack('i')
# length, the json.dumps header, then the file's bytes, for several files
# on one connection. The port and the files come from argv (the tutorial
# hard-codes one path); each file is stored under the name given after it,
# as the tutorial sends a name of its choosing. At the end it half-closes
# and reports how many bytes the server sent back: the seed protocol has
# no replies, so it must be 0.
import json
import os
import socket
import struct
import sys

client = socket.socket()
client.connect(('127.0.0.1', int(sys.argv[1])))

args = sys.argv[2:]
for file_path, file_name in zip(args[0::2], args[1::2]):
    file_size = os.path.getsize(file_path)
    data_dic = {
        'file_name': file_name,
        'file_size': file_size
    }
    header_json = json.dumps(data_dic)
    header_bytes = header_json.encode('utf-8')
    # 制作字典的报头
    header = struct.pack('i', len(header_bytes))
    # 发送报头
    client.send(header)
    # 发字典数据
    client.send(header_bytes)
    # 打开文件发送文件数据
    with open(file_path, 'rb') as f:
        for line in f:
            client.sendall(line)

client.shutdown(socket.SHUT_WR)
client.settimeout(10)
back = b''
while True:
    data = client.recv(1024)
    if not data:
        break
    back += data
print(len(back))
