import os, socket
import pytest

# Nothing in the test suite downloads: the hub is offline, and sockets may only reach this machine.
os.environ['HF_HUB_OFFLINE'] = '1'
os.environ.setdefault('MPLBACKEND', 'Agg')

_connect = socket.socket.connect
_LOCAL = ('127.', '::1', 'localhost', '0.0.0.0')

def _guarded_connect(self, address):
    host = address[0] if isinstance(address, tuple) else address
    if self.family in (socket.AF_INET, socket.AF_INET6) and not str(host).startswith(_LOCAL):
        raise RuntimeError(f"test tried to reach {address!r}: tests must run offline")
    return _connect(self, address)

@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    monkeypatch.setattr(socket.socket, 'connect', _guarded_connect)
