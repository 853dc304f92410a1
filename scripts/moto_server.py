"""Runs moto's server on loopback for the local stack and the tests.

Prints the endpoint URL on its first line of stdout, then serves until its standard input
closes: the Rust process that started it holds the other end of the pipe, so when that process
exits, for any reason, this server stops too and no orphan is left behind.

usage: moto_server.py [PORT]   (0 or absent: any free port)
"""

import socket
import sys

from moto.moto_server.threaded_moto_server import ThreadedMotoServer


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1] != "0" else free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    print(f"http://127.0.0.1:{port}", flush=True)
    try:
        while sys.stdin.read(1 << 16):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
