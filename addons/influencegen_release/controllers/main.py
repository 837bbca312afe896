from odoo import http
from odoo.http import request


class ReleaseController(http.Controller):
    @http.route("/influencegen_release/job/<int:job_id>/log", type="http", auth="user", methods=["GET"])
    def job_log(self, job_id):
        """The whole log of a job, streamed from its chunk files (never loaded in memory at once)."""
        job = request.env["release.job"].browse(job_id).exists()
        if not job:
            raise request.not_found()
        job.check_access("read")
        filename = f"{job.run_id.display_name.replace(' ', '')}-job{job.id}-attempt{job.attempt}.log".replace("#", "")
        return request.make_response(
            job._log_store().iter_bytes(),
            headers=[
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Content-Disposition", http.content_disposition(filename)),
                ("X-Content-Type-Options", "nosniff"),
            ],
        )
