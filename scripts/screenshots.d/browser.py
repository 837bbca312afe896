"""Drives headless Chromium over the DevTools protocol to save a PNG of each OWL screen.

    browser.py BASE_URL DATABASE OUT_DIR RUN_ID PIPELINE_ID

Logs in as the demo users (password = login) through the JSON API, opens each screen the way a person would
(the form's button, the job card) and waits for the screen's content before the picture."""

import base64
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

import websocket  # python3-websocket, as Odoo's browser tests use

WAIT_S = 60


class Chromium:
    def __init__(self):
        self.profile = tempfile.mkdtemp(prefix="igr-shots-chrome-")
        self.process = subprocess.Popen(
            ["chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--remote-debugging-port=0",
             f"--user-data-dir={self.profile}", "--window-size=1440,900", "--hide-scrollbars", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.monotonic() + WAIT_S
        while not os.path.exists(port_file) and time.monotonic() < deadline:
            time.sleep(0.2)
        with open(port_file, encoding="utf-8") as handle:
            port = handle.readline().strip()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json", timeout=10) as response:
            page = next(t for t in json.load(response) if t["type"] == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=WAIT_S, suppress_origin=True)
        self.next_id = 0
        self.call("Emulation.setDeviceMetricsOverride", width=1440, height=900, deviceScaleFactor=1, mobile=False)

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def js(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        return result.get("result", {}).get("value")

    def goto(self, url):
        self.call("Page.navigate", url=url)
        self.wait("document.readyState === 'complete'")

    def wait(self, condition, what=None):
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            if self.js(f"!!({condition})"):
                return
            time.sleep(0.3)
        raise RuntimeError(f"timed out waiting for {what or condition}")

    def wait_for(self, selector):
        self.wait(f"document.querySelector({json.dumps(selector)})", selector)

    def click(self, selector):
        self.wait_for(selector)
        self.js(f"document.querySelector({json.dumps(selector)}).click()")

    def login(self, base, db, login):
        """A session from /web/session/authenticate, handed to the browser as its cookie."""
        request = urllib.request.Request(
            f"{base}/web/session/authenticate",
            data=json.dumps({"jsonrpc": "2.0", "params": {"db": db, "login": login, "password": login}}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            cookie = response.headers["Set-Cookie"]
            if "error" in json.load(response):
                raise RuntimeError(f"{login} could not log in")
        session = cookie.split("session_id=", 1)[1].split(";", 1)[0]
        self.call("Network.setCookie", name="session_id", value=session, url=base)

    def shot(self, path):
        time.sleep(1.5)  # let fonts and the last render settle before the picture
        data = self.call("Page.captureScreenshot", format="png")["data"]
        with open(path, "wb") as handle:
            handle.write(base64.b64decode(data))
        print(f"[screenshots] {path}")

    def close(self):
        self.ws.close()
        self.process.terminate()
        self.process.wait(timeout=30)


def main(base, db, out, run_id, pipeline_id):
    os.makedirs(out, exist_ok=True)
    browser = Chromium()
    try:
        browser.login(base, db, "admin")
        browser.goto(f"{base}/odoo/action-influencegen_release.action_release_run/{run_id}")
        browser.click(".o_form_view button[name='action_open_graph']")
        browser.wait_for(".o_igr_run_graph .o_igr_job")
        browser.shot(os.path.join(out, "run-graph.png"))
        browser.click(".o_igr_run_graph .o_igr_job")
        browser.wait_for(".o_igr_log .o_igr_line")
        browser.click(".o_igr_first_error")
        browser.wait_for(".o_igr_current")
        browser.shot(os.path.join(out, "log-viewer.png"))
        # Inside the web client from here on, as a person clicks: no page reload.
        browser.js("odoo.__WOWL_DEBUG__.root.env.services.action.doAction('influencegen_release.action_release_environment_board')")
        browser.wait_for(".o_igr_board .o_igr_environment")
        browser.js("document.querySelector('.o_igr_check_all').click()")
        browser.wait("!document.querySelector('.o_igr_check_all').disabled", "drift checked")
        browser.shot(os.path.join(out, "environment-board.png"))
        browser.js(
            "odoo.__WOWL_DEBUG__.root.env.services.action.doAction({type: 'ir.actions.act_window', "
            f"res_model: 'release.pipeline', res_id: {int(pipeline_id)}, views: [[false, 'form']]}})"
        )
        browser.click(".o_form_view button[name='action_open_graph']")
        browser.wait_for(".o_igr_pipeline_graph .o_igr_task")
        browser.shot(os.path.join(out, "pipeline-graph.png"))
        browser.login(base, db, "qa_lead")
        browser.goto(f"{base}/odoo/release-my-approvals")
        browser.wait_for(".o_igr_approval_card")
        browser.shot(os.path.join(out, "my-approvals.png"))
    finally:
        browser.close()


if __name__ == "__main__":
    main(*sys.argv[1:6])
