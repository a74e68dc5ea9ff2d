import os, socket, tempfile
import pytest

# Nothing in the test suite downloads: the hub is offline, and sockets may only reach this machine.
os.environ['HF_HUB_OFFLINE'] = '1'
os.environ.setdefault('MPLBACKEND', 'Agg')
# The kit's cache (feature stores, the walkthrough's data) of a test session is its own, never the user's ~/.cache/fpt_kit
os.environ.setdefault('FPT_KIT_CACHE', tempfile.mkdtemp(prefix='fpt-kit-test-cache-'))

_connect, _connect_ex, _sendto, _getaddrinfo = socket.socket.connect, socket.socket.connect_ex, socket.socket.sendto, socket.getaddrinfo
_LOCAL = ('127.', '::1', 'localhost', '0.0.0.0')

def _check(family, address):
    host = address[0] if isinstance(address, tuple) else address
    if family in (socket.AF_INET, socket.AF_INET6) and not str(host).startswith(_LOCAL):
        raise RuntimeError(f"test tried to reach {address!r}: tests must run offline")

def _guarded_connect(self, address): _check(self.family, address); return _connect(self, address)
def _guarded_connect_ex(self, address): _check(self.family, address); return _connect_ex(self, address)
def _guarded_sendto(self, data, *args): _check(self.family, args[-1]); return _sendto(self, data, *args)
def _guarded_getaddrinfo(host, *args, **kwargs):
    if host is not None and not str(host).startswith(_LOCAL): raise RuntimeError(f"test tried to resolve {host!r}: tests must run offline")
    return _getaddrinfo(host, *args, **kwargs)

@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    monkeypatch.setattr(socket.socket, 'connect', _guarded_connect)
    monkeypatch.setattr(socket.socket, 'connect_ex', _guarded_connect_ex)
    monkeypatch.setattr(socket.socket, 'sendto', _guarded_sendto)
    monkeypatch.setattr(socket, 'getaddrinfo', _guarded_getaddrinfo)
