#!/usr/bin/env python3
"""Two XMPP clients (slixmpp, as Debian ships it) on one server, for the
tests: each registers its account in-band (or logs in when it exists), then
alice sends bob a message and bob must receive it.

    xmpp.py SOCKS_PORT DOMAIN PORT NONCE [register|login]

The clients reach DOMAIN:PORT through the SOCKS5 proxy at 127.0.0.1:SOCKS_PORT
(Tor's; 0: directly on 127.0.0.1) by way of a relay on loopback, since
slixmpp speaks no SOCKS. Prints `received NONCE` and exits 0 when bob got it;
exits 1 with what went wrong otherwise. Bounded: 120 s in all.
"""
import asyncio
import logging
import socket
import struct
import sys
import threading

import slixmpp

socks_port, domain, port, nonce = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
mode = sys.argv[5] if len(sys.argv) > 5 else "register"
PASSWORDS = {"alice": "alice-" + nonce, "bob": "bob-" + nonce}


def socks_connect(host, port):
    s = socket.create_connection(("127.0.0.1", socks_port), timeout=60)
    s.sendall(b"\x05\x01\x00")
    if s.recv(2) != b"\x05\x00":
        raise SystemExit("SOCKS: no auth method accepted")
    name = host.encode()
    s.sendall(b"\x05\x01\x00\x03" + bytes([len(name)]) + name + struct.pack(">H", port))
    reply = s.recv(10)
    if len(reply) < 2 or reply[1] != 0:
        raise SystemExit("SOCKS refused with %#x" % (reply[1] if len(reply) > 1 else -1))
    s.settimeout(None)
    return s


def pipe(a, b):
    try:
        while True:
            data = a.recv(65536)
            if not data:
                break
            b.sendall(data)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def relay():
    """A loopback port whose connections go to domain:port through SOCKS."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)

    def serve():
        while True:
            client, _ = listener.accept()
            upstream = socks_connect(domain, port) if socks_port else socket.create_connection(("127.0.0.1", port))
            threading.Thread(target=pipe, args=(client, upstream), daemon=True).start()
            threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    return listener.getsockname()[1]


class Client(slixmpp.ClientXMPP):
    def __init__(self, user, register):
        super().__init__("%s@%s" % (user, domain), PASSWORDS[user])
        self.registered = asyncio.get_event_loop().create_future()
        self.ready = asyncio.get_event_loop().create_future()
        self.got = asyncio.get_event_loop().create_future()
        if register:
            self.register_plugin("xep_0077")
            self["xep_0077"].force_registration = True
        # slixmpp 1.8 holds back every stanza before the session starts, the
        # registration's too (a known bug of that version): let them through.
        self._always_send_everything = register
        # No TLS inside the onion: the onion service encrypts and authenticates.
        self["feature_mechanisms"].unencrypted_plain = True
        self.add_event_handler("register", self.on_register)
        self.add_event_handler("session_start", self.on_start)
        self.add_event_handler("message", self.on_message)
        self.add_event_handler("failed_auth", lambda _: self.ready.done() or self.ready.set_exception(SystemExit("failed_auth")))

    async def on_register(self, _):
        iq = self.Iq()
        iq["type"] = "set"
        iq["register"]["username"] = self.boundjid.user
        iq["register"]["password"] = self.password
        try:
            await iq.send(timeout=30)
        except slixmpp.exceptions.IqError as e:
            self.ready.done() or self.ready.set_exception(SystemExit("registration refused: %s" % e.iq["error"]["condition"]))
            self.disconnect()

    async def on_start(self, _):
        self.send_presence()
        await self.get_roster()
        self.ready.done() or self.ready.set_result(True)

    def on_message(self, msg):
        if msg["type"] in ("chat", "normal") and not self.got.done():
            self.got.set_result(msg["body"])


async def main():
    local = relay()
    alice, bob = Client("alice", mode == "register"), Client("bob", mode == "register")
    for c in (alice, bob):
        c.connect(("127.0.0.1", local), use_ssl=False, force_starttls=False, disable_starttls=True)
    await asyncio.wait_for(asyncio.gather(alice.ready, bob.ready), 90)
    alice.send_message(mto=bob.boundjid.bare, mbody=nonce, mtype="chat")
    body = await asyncio.wait_for(bob.got, 30)
    print("received", body)
    for c in (alice, bob):
        c.disconnect()
    return body == nonce


if __name__ == "__main__":
    logging.basicConfig(level=logging.DEBUG if "XMPP_DEBUG" in __import__("os").environ else logging.ERROR)
    try:
        ok = asyncio.get_event_loop().run_until_complete(asyncio.wait_for(main(), 120))
    except (SystemExit, asyncio.TimeoutError, Exception) as e:
        print("failed:", repr(e))
        sys.exit(1)
    sys.exit(0 if ok else 1)
