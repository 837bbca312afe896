"""The deploy's downtime probe against a real HTTP server on loopback that stops answering for
a while and comes back on the same port, twice: both outages are summed, and a target that
never went down has none."""

import http.server
import threading
import time

from influencegen_release.engine.delivery.odoo.downtime import DowntimeProbe


class Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # the http.server API
        self.send_response(200 if self.path == "/web/login" else 404)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


def serve(port=0):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Page)
    server.allow_reuse_address = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def outage(server, seconds):
    port = server.server_address[1]
    server.shutdown()
    server.server_close()
    time.sleep(seconds)
    return serve(port)


def test_outages_are_measured_from_first_failed_to_first_good_probe_and_summed():
    server = serve()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    with DowntimeProbe(url, interval=0.05) as probe:
        time.sleep(0.3)
        server = outage(server, 0.6)
        time.sleep(0.3)
        server = outage(server, 0.4)
        time.sleep(0.3)
    server.shutdown()
    assert 0.8 <= probe.downtime_s() <= 1.4, probe.downtime_s()
    starts = sorted(t for t, _ok in probe.samples)
    assert max(b - a for a, b in zip(starts, starts[1:], strict=False)) < 0.25, "sampled at least every 0.25 s"


def test_a_target_that_stays_up_has_no_downtime():
    server = serve()
    with DowntimeProbe(f"http://127.0.0.1:{server.server_address[1]}") as probe:
        time.sleep(0.5)
    server.shutdown()
    assert probe.samples and probe.downtime_s() == 0
