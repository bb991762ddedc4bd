"""The stdlib HTTP transport: every failure of the network is `Unreachable`, every refusal is
`CloudRefused` with the cloud's JSON error, and no request waits longer than its timeout."""

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from sync.client import CloudRefused, HttpTransport, Unreachable


class FakeCloud(BaseHTTPRequestHandler):
    answers: dict = {}

    def do_GET(self):
        self.answer()

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.answer()

    def answer(self):
        status, body = self.answers[self.path]
        self.server.seen.append((self.command, self.path, self.headers.get("Authorization")))
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_cloud():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeCloud)
    server.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def transport_for(server, timeout=2.0) -> HttpTransport:
    return HttpTransport(f"http://127.0.0.1:{server.server_address[1]}/", "s3cret", timeout=timeout)


def test_it_sends_the_bearer_token_and_reads_the_json_answer(fake_cloud):
    FakeCloud.answers = {"/sync/v1/marks/": (200, {"ticket": {"seq": 3, "hash": "ab"}})}
    assert transport_for(fake_cloud)("GET", "marks/") == {"ticket": {"seq": 3, "hash": "ab"}}
    assert fake_cloud.seen == [("GET", "/sync/v1/marks/", "Bearer s3cret")]


def test_it_turns_a_4xx_into_a_refusal_carrying_the_clouds_error(fake_cloud):
    FakeCloud.answers = {"/sync/v1/records/": (409, {"error": "gap", "detail": "…", "expected": 4})}
    with pytest.raises(CloudRefused) as caught:
        transport_for(fake_cloud)("POST", "records/", {"chain": "ticket", "records": []})
    assert caught.value.status == 409 and caught.value.error == "gap" and caught.value.answer["expected"] == 4


@pytest.mark.parametrize("status", [500, 502, 503])
def test_it_takes_a_server_error_as_unreachable(fake_cloud, status):
    FakeCloud.answers = {"/sync/v1/marks/": (status, "<html>Bad gateway</html>")}
    with pytest.raises(Unreachable):
        transport_for(fake_cloud)("GET", "marks/")


def test_it_takes_an_answer_that_is_not_json_as_unreachable(fake_cloud):
    FakeCloud.answers = {"/sync/v1/marks/": (200, "<html>captive portal</html>")}
    with pytest.raises(Unreachable, match="not JSON"):
        transport_for(fake_cloud)("GET", "marks/")


def test_it_takes_a_refused_connection_as_unreachable():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(Unreachable):
        HttpTransport(f"http://127.0.0.1:{port}", "t", timeout=2)("GET", "marks/")


def test_it_gives_up_on_a_cloud_that_never_answers():
    with socket.socket() as silent:  # accepts the connection (backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        with pytest.raises(Unreachable):
            HttpTransport(f"http://127.0.0.1:{port}", "t", timeout=0.3)("GET", "marks/")
