"""Free TCP ports on the loopback interface for test servers."""

import socket


def free_port() -> int:
    """Return a port on 127.0.0.1 that was free a moment ago.

    The kernel picks it (bind to port 0), so parallel test runs rarely collide; the socket is
    closed before returning, so there is a small window in which another process could take it.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
