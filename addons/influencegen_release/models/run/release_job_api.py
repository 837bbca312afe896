import os
import re

from odoo import fields, models
from odoo.exceptions import UserError

from ...engine.execution.log_store import LogStore

# What the log viewer's "first error" looks for: words tools print on errors, and FAIL in capitals
# (pytest, unittest), not "0 failed" of a summary; also right after an ANSI colour code.
_WORD_START = rb"(?:\b|(?<=\x1b\[\dm)|(?<=\x1b\[\d\dm)|(?<=;\dm)|(?<=;\d\dm))"
ERROR_LINE = re.compile(_WORD_START + rb"(?:(?i:error|fatal|traceback|exception)|FAIL(?:ED|URE)?)\b")
LOG_PAGE_BYTES = 256 * 1024
ATTEMPT_DIR = re.compile(r"^attempt-(\d+)$")  # release.job._log_dir: one folder per attempt


class ReleaseJob(models.Model):
    """What the CLI, the run graph and the log viewer read of a job: its logs (every attempt
    keeps its own, ``release.job._log_dir``) and when it was queued."""

    _inherit = "release.job"

    queued_at = fields.Datetime(readonly=True, help="When this attempt was queued: it waits until it starts.")

    def write(self, vals):
        # Queued from pending (the run lets it start) or for a new attempt (a retry); a claim
        # nobody started goes back to the queue without resetting how long it has waited.
        queued = vals.get("state") == "queued" and "queued_at" not in vals
        if queued and ("attempt" in vals or not self.filtered(lambda job: job.state != "pending")):
            vals = dict(vals, queued_at=fields.Datetime.now())
        return super().write(vals)

    def api_log(self, offset=0, length=65536, tail=0):
        """Log text for the CLI and the UI: ``tail`` last lines, or ``length`` bytes from ``offset``."""
        self.ensure_one()
        self.check_access("read")
        store = self._log_store()
        if tail:
            return {"text": store.tail(int(tail)), "size": self.log_size, "state": self.state}
        data = store.read_range(int(offset), min(int(length), 1 << 20)) if self.log_dir else b""
        return {"text": data.decode("utf-8", "replace"), "offset": int(offset) + len(data), "size": self.log_size, "state": self.state}

    def api_log_page(self, start=None, end=None, length=LOG_PAGE_BYTES, attempt=None):
        """A page of whole log lines of ``attempt`` (the current one when None) for the log
        viewer: from ``start``, or ending at ``end`` (the tail when both are None).
        ``{text, start, end, size, state, attempt}``, offsets in bytes; an earlier attempt's
        state is "failed" (it was retried)."""
        self.ensure_one()
        self.check_access("read")
        attempt, store = self._attempt_store(attempt)
        data, first, last, size = store.page(start, end, min(int(length), 4 * LOG_PAGE_BYTES))
        state = self.state if attempt == self.attempt else "failed"
        return {"text": data.decode("utf-8", "replace"), "start": first, "end": last, "size": size, "state": state, "attempt": attempt}

    def api_log_find(self, text=None, start=0, direction="forward", attempt=None):
        """Offset of the first line from ``start`` containing ``text`` (any case), or of the
        first error line when no text is given; -1 when there is none. ``direction``
        "backward": of the last such line before ``start`` (a line's offset; the log's end
        when None). In the log of ``attempt`` (the current one when None)."""
        self.ensure_one()
        self.check_access("read")
        store = self._attempt_store(attempt)[1]
        pattern = re.compile(re.escape(text.encode()), re.IGNORECASE) if text else ERROR_LINE
        if direction == "backward":
            return store.rfind(pattern, None if start is None else int(start))
        return store.find(pattern, int(start or 0))

    def api_log_view(self, start=None, end=None, line=None, attempt=None):
        """The log viewer's page (``api_log_page``) with the number of its first line, so
        lines show their numbers and a link can name one; ``line`` (from 1) opens the page
        that starts at that line. ``attempts``: every attempt's log, to choose from."""
        self.ensure_one()
        store = self._attempt_store(attempt)[1]
        if line:
            start, end = store.line_offset(int(line)), None
        page = self.api_log_page(start=start, end=end, attempt=attempt)
        return dict(page, first_line=store.line_number(page["start"]), attempts=self._log_attempts())

    # -- helpers ------------------------------------------------------------------------------
    def _attempt_store(self, attempt=None):
        """``(attempt, LogStore)`` of ``attempt`` (from 1; the current one when None). An
        attempt's folder sits beside the others (``attempt-<n>``); the current attempt's is
        ``log_dir`` once it started, and is still empty while a retry waits in the queue."""
        self.ensure_one()
        attempt = int(attempt or self.attempt)
        if not 1 <= attempt <= self.attempt:
            raise UserError(self.env._("Job %(job)s has no attempt %(attempt)s.", job=self.name, attempt=attempt))
        match = ATTEMPT_DIR.match(os.path.basename(self.log_dir or ""))
        if not match:  # a log kept elsewhere has no earlier attempts
            return attempt, self._log_store() if attempt == self.attempt else LogStore(os.devnull)
        if int(match.group(1)) == attempt:
            return attempt, self._log_store()
        return attempt, LogStore(os.path.join(os.path.dirname(self.log_dir), f"attempt-{attempt}"))

    def _log_attempts(self):
        """Each attempt of this job with its log's size, newest first."""
        return [
            {"attempt": attempt, "size": self._attempt_store(attempt)[1].size(), "current": attempt == self.attempt}
            for attempt in range(self.attempt, 0, -1)
        ]
