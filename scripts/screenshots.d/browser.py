"""Drives headless Chromium over the DevTools protocol to save a PNG of every screen of issue 18.

    browser.py BASE_URL DATABASE OUT_DIR RUN_ID PIPELINE_ID FAILED_RUN_ID

RUN_ID waits for the QA Lead's decision; FAILED_RUN_ID failed its quality gate. Logs in as the
demo users (password = login) through the JSON API, opens each screen the way a person would
(the form's button, the job card) and waits for the screen's content before the picture.
Pictures are 1280 px wide (390 x 844 for the phone), saved in 256 colours without dithering
(Pillow; a screen of text and flat colours has far fewer): about a third of the size and the
same to the eye."""

import base64
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

import websocket  # python3-websocket, as Odoo's browser tests use

try:
    from PIL import Image  # python3-pil, as Odoo's own image fields use
except ImportError:  # the pictures are kept as Chromium saves them
    Image = None

WAIT_S = 120  # a loaded machine renders slowly
WIDTH, HEIGHT = 1280, 800


class Chromium:
    def __init__(self):
        self.profile = tempfile.mkdtemp(prefix="igr-shots-chrome-")
        self.process = subprocess.Popen(
            ["chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--remote-debugging-port=0",
             f"--user-data-dir={self.profile}", f"--window-size={WIDTH},{HEIGHT}", "--hide-scrollbars", "about:blank"],
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
        self.size(WIDTH, HEIGHT)

    def size(self, width, height, mobile=False):
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=mobile)
        self.call("Emulation.setTouchEmulationEnabled", enabled=mobile)

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
        where = self.js("location.href + ': ' + document.body.innerText.slice(0, 300).replace(/\\s+/g, ' ')")
        raise RuntimeError(f"timed out waiting for {what or condition} at {where}")

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
        data = base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"])
        with open(path, "wb") as handle:
            handle.write(data)
        if Image:
            small(path)
        print(f"[screenshots] {path} ({len(data) // 1024} kB -> {os.path.getsize(path) // 1024} kB)")

    def close(self):
        self.ws.close()
        self.process.terminate()
        self.process.wait(timeout=30)


def small(path):
    """The PNG at ``path`` in a palette of 256 colours, no dithering, compressed at most."""
    with Image.open(path) as image:
        palette = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    palette.save(path, optimize=True)


def main(base, db, out, run_id, pipeline_id, failed_id):
    os.makedirs(out, exist_ok=True)
    browser = Chromium()
    shot = lambda name: browser.shot(os.path.join(out, f"{name}.png"))  # noqa: E731
    # Inside the web client, each screen opened afresh (no breadcrumbs of the previous ones).
    action = "odoo.__WOWL_DEBUG__.root.env.services.action.doAction"
    try:
        browser.login(base, db, "admin")
        # The run whose gate failed: the stage in red, what it never reached, its findings.
        browser.goto(f"{base}/odoo/action-influencegen_release.action_release_run/{failed_id}")
        browser.click(".o_form_view button[name='action_open_graph']")
        browser.wait_for(".o_igr_run_graph .o_igr_stage[data-state='failed']")
        shot("run-graph-failed-gate")
        browser.click(".o_igr_run_graph .o_igr_gate_findings")
        browser.wait_for(".o_list_view .o_data_row")
        shot("findings")
        browser.goto(f"{base}/odoo/action-influencegen_release.action_release_finding")
        browser.wait_for(".o_list_view .o_group_header")
        shot("findings-by-run")
        # The run waiting for approval, and a job's log.
        browser.goto(f"{base}/odoo/action-influencegen_release.action_release_run/{run_id}")
        browser.click(".o_form_view button[name='action_open_graph']")
        browser.wait_for(".o_igr_run_graph .o_igr_waiting")
        shot("run-graph")
        browser.click(".o_igr_run_graph .o_igr_job")
        browser.wait_for(".o_igr_log .o_igr_line")
        browser.click(".o_igr_first_error")
        browser.wait_for(".o_igr_current")
        shot("log-viewer")
        # Inside the web client from here on, as a person clicks: no page reload.
        browser.js(f"{action}('influencegen_release.action_release_environment_board', {{clearBreadcrumbs: true}})")
        browser.wait_for(".o_igr_board .o_igr_environment")
        browser.js("document.querySelector('.o_igr_check_all').click()")
        browser.wait("!document.querySelector('.o_igr_check_all').disabled", "drift checked")
        shot("environment-board")
        # The deployments as a release manager reads them, and the staging deploy's plan and timeline.
        browser.js(f"{action}('influencegen_release.action_release_deployment', {{clearBreadcrumbs: true}})")
        browser.wait_for(".o_list_view .o_data_row .o_igr_short_sha")
        shot("deployments")
        browser.click(".o_list_view .o_data_row .o_data_cell")
        browser.wait_for(".o_form_view .o_field_widget[name='plan']")
        shot("deployment")
        browser.js(f"{action}('influencegen_release.action_release_parity', {{clearBreadcrumbs: true}})")
        browser.click(".o_form_view button[name='action_compare']")
        browser.wait_for(".o_igr_parity")
        shot("parity")
        browser.js(f"{action}('influencegen_release.action_release_dora_dashboard', {{clearBreadcrumbs: true}})")
        browser.wait_for(".o_igr_dora_dashboard .o_igr_dora, .o_igr_dora_dashboard .o_igr_nothing")
        shot("dora-dashboard")
        browser.js(
            f"{action}({{type: 'ir.actions.act_window', res_model: 'release.pipeline', res_id: {int(pipeline_id)}, views: [[false, 'form']]}}, {{clearBreadcrumbs: true}})"
        )
        browser.click(".o_form_view button[name='action_open_graph']")
        browser.wait_for(".o_igr_pipeline_graph .o_igr_task")
        shot("pipeline-graph")
        # The QA Lead: what awaits them, the decision dialog, the request's form, on a phone.
        browser.login(base, db, "qa_lead")
        browser.goto(f"{base}/odoo/release-my-approvals")
        browser.wait_for(".o_igr_approval_card")
        shot("my-approvals")
        # The card's Approve decides at once (two clicks from the activity): the decision
        # dialog is the one of the request's form, opened from the card's title.
        browser.click(".o_igr_approval_card .card-header a")
        browser.wait_for(".o_form_view .o_form_statusbar button[name='action_approve']")
        shot("approval-form")
        browser.click(".o_form_view .o_form_statusbar button[name='action_approve']")
        browser.wait_for(".modal .o_field_widget[name='comment']")
        shot("approval-dialog")
        browser.js("document.querySelector('.modal .btn-close, .modal button.o_form_button_cancel').click()")
        browser.wait("!document.querySelector('.modal')", "the dialog closed")
        browser.size(390, 844, mobile=True)
        browser.goto(f"{base}/odoo/release-my-approvals")
        browser.wait_for(".o_igr_approval_card .o_igr_approve")
        shot("phone-approval")
    finally:
        browser.close()


if __name__ == "__main__":
    main(*sys.argv[1:7])
