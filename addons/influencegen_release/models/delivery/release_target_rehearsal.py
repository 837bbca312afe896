import json
import os
import subprocess
import sys

from odoo import models
from odoo.exceptions import UserError
from odoo.tools import config

from ...engine.delivery.odoo import rehearsal as target_rehearsal
from .release_target_receipt import UPGRADE_PROCESS

REHEARSAL = os.path.abspath(target_rehearsal.__file__)


class ReleaseTargetReceipt(models.Model):
    """The upgrade rehearsal, on the target: a planned receipt's upgrade run on a neutralized
    copy of this database (``engine/delivery/odoo/rehearsal.py``, its own process), which is
    dropped afterwards. This database is only read (``pg_dump``)."""

    _inherit = "release.target.receipt"

    def api_rehearse(self, plan_digest):
        """Start the rehearsal of this planned receipt's plan (the one the deployer was shown)."""
        self._check_deployer()
        self.ensure_one()
        if self.state != "planned" or self.plan_digest != plan_digest:
            raise UserError(self.env._("Receipt %(name)s is not planned with this plan: plan again.", name=self.name))
        folder = self._rehearsal_folder()
        os.makedirs(folder, exist_ok=True)
        plan = json.loads(self.plan_json)
        link = self._current_link()
        job = {
            "db": self.env.cr.dbname,
            "receipt": self.id,
            "python": sys.executable,
            "odoo_bin": os.path.abspath(sys.argv[0]),
            "upgrade_process": UPGRADE_PROCESS,
            # The package's code, not the running release: the link is replaced by the receipt's folder.
            "addons_path": ",".join(self.release_dir if path == link else path for path in self._addons_paths()),
            "upgrade": plan.get("upgrade", []),
            "install": plan.get("install", []),
            "db_host": config["db_host"] or "",
            "db_port": config["db_port"] or "",
            "db_user": config["db_user"] or "",
        }
        job_path = os.path.join(folder, "job.json")
        with open(job_path, "w", encoding="utf-8") as handle:
            json.dump(job, handle, sort_keys=True)
        for stale in ("status.json", "agent.log"):
            if os.path.exists(os.path.join(folder, stale)):
                os.remove(os.path.join(folder, stale))
        env = dict(os.environ)
        if config["db_password"]:
            env["PGPASSWORD"] = config["db_password"]  # to the process's environment, never to a file
        subprocess.Popen([sys.executable, REHEARSAL, job_path], start_new_session=True, env=env, close_fds=True)
        self.message_post(body=self.env._("Upgrade rehearsal started on a neutralized copy: %(plan)s.", plan=self._plan_text()))
        return {"receipt": self.id, "state": "running"}

    def api_rehearsal(self):
        """The rehearsal's progress and report (``status.json`` of its process)."""
        self._check_deployer()
        self.ensure_one()
        try:
            with open(os.path.join(self._rehearsal_folder(), "status.json"), encoding="utf-8") as handle:
                return json.load(handle)
        except (OSError, ValueError):
            return {"state": "starting"}

    def _rehearsal_folder(self):
        return os.path.join(self._managed_root(), "rehearsals", str(self.id))
