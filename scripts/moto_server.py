"""Runs moto's server on loopback for the local stack and the tests.

Prints the endpoint URL on its first line of stdout, then serves until its standard input
closes: the Rust process that started it holds the other end of the pipe, so when that process
exits, for any reason, this server stops too and no orphan is left behind.

Requests are served one at a time. moto's backends keep no locks, so two concurrent writes to
one item (say, two relabel transactions both adding to an enterprise's summary counters) can lose
one of the updates — something DynamoDB never does, since every item write is atomic there.
Serialising requests makes moto as strict as the service it stands for; moto is bound to one
core by Python's GIL anyway, so little throughput is lost.

`GET /_local/sent-mails` lists the raw mails SES "sent" (every account and region), read from
moto's SES backend as its documentation suggests. moto's own `/moto-api/data.json` would dump
every model of every service to answer the same question, which grows with everything stored.

usage: moto_server.py [PORT]   (0 or absent: any free port)
"""

import json
import socket
import sys
import threading

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sent_mails() -> list:
    from moto.ses import ses_backends
    from moto.ses.models import RawMessage

    mails = []
    for account in ses_backends.values():
        for backend in account.values():
            for m in backend.sent_messages:
                if isinstance(m, RawMessage):
                    mails.append(
                        {"id": m.id, "source": m.source, "destinations": m.destinations,
                         "raw_data": m.raw_data}
                    )
    return mails


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1] != "0" else free_port()
    app = DomainDispatcherApplication(create_backend_app)
    lock = threading.Lock()

    def one_at_a_time(environ, start_response):
        if environ.get("PATH_INFO") == "/_local/sent-mails":
            with lock:
                body = json.dumps(sent_mails()).encode()
            start_response("200 OK", [("Content-Type", "application/json")])
            return [body]
        with lock:
            # Consume the whole response while holding the lock.
            return list(app(environ, start_response))

    server = make_server(
        "127.0.0.1", port, one_at_a_time, threaded=True, request_handler=MotoRequestHandler
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"http://127.0.0.1:{port}", flush=True)
    try:
        while sys.stdin.read(1 << 16):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
