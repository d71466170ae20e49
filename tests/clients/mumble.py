#!/usr/bin/env python3
"""A Mumble client's handshake, for the tests: through a SOCKS5 proxy (Tor's),
TLS, then Version and Authenticate (protobuf, framed as Mumble frames them);
prints `ServerSync` when the server lets the user in, or `Reject TYPE REASON`.

    mumble.py SOCKS_PORT HOST PORT PASSWORD

Exit status: 0 for ServerSync, 1 for Reject, 2 for anything else, 3 when the
SOCKS proxy refuses (its reply code is printed). Every read has a timeout.
"""
import socket
import ssl
import struct
import sys

VERSION, AUTHENTICATE, REJECT, SERVER_SYNC = 0, 2, 4, 5


def varint(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(number, value):
    if isinstance(value, int):
        return varint(number << 3) + varint(value)
    return varint(number << 3 | 2) + varint(len(value)) + value


def fields(body):
    """Yield (number, value) of a protobuf message (varints and bytes only)."""
    i = 0
    while i < len(body):
        key, i = read_varint(body, i)
        if key & 7 == 0:
            value, i = read_varint(body, i)
        elif key & 7 == 2:
            length, i = read_varint(body, i)
            value, i = body[i:i + length], i + length
        else:
            return
        yield key >> 3, value


def read_varint(body, i):
    n = shift = 0
    while True:
        byte = body[i]
        i += 1
        n |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return n, i


def exactly(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError("the connection closed")
        data += chunk
    return data


def main():
    socks_port, host, port, password = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
    sock = socket.create_connection(("127.0.0.1", socks_port), timeout=120)
    sock.sendall(b"\x05\x01\x00")
    if exactly(sock, 2) != b"\x05\x00":
        print("SOCKS: no usable authentication method")
        return 2
    sock.sendall(b"\x05\x01\x00\x03" + bytes([len(host)]) + host.encode() + struct.pack(">H", port))
    reply = exactly(sock, 10)
    if reply[1] != 0:
        print(f"SOCKS refused: {reply[1]:#x}")
        return 3
    # murmur's certificate is its own, self-signed: the onion address is what
    # authenticates the server here.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    tls = context.wrap_socket(sock)

    def send(kind, body):
        tls.sendall(struct.pack(">HI", kind, len(body)) + body)

    send(VERSION, field(1, 1 << 16 | 3 << 8 | 4) + field(2, b"1.3.4") + field(3, b"Linux") + field(4, b"tails-server test"))
    send(AUTHENTICATE, field(1, b"tester") + field(2, password.encode()) + field(5, 1))
    for _ in range(100):
        kind, length = struct.unpack(">HI", exactly(tls, 6))
        body = exactly(tls, length)
        if kind == SERVER_SYNC:
            print("ServerSync")
            return 0
        if kind == REJECT:
            said = dict(fields(body))
            print(f"Reject {said.get(1, 0)} {said.get(2, b'').decode(errors='replace')}")
            return 1
    print("no ServerSync or Reject in 100 messages")
    return 2


if __name__ == "__main__":
    sys.exit(main())
