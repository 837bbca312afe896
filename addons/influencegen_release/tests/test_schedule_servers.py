import datetime as dt

from odoo import SUPERUSER_ID, api
from odoo.tests import TransactionCase, tagged

PIPELINE = """\
version: 1
pipeline:
  code: PL-T-SCHED-2SRV
  name: Schedule on two servers
  kind: odoo
  triggers:
    - {event: schedule, schedule: 1h}
  stages:
    - name: Build
      tasks:
        - {name: Checkout, key: checkout, uses: git.checkout}
"""
SLOT = dt.datetime(2026, 3, 4, 11, 0)
NOW = dt.datetime(2026, 3, 4, 11, 0, 20)


@tagged("post_install", "-at_install")
class TestScheduleTwoServers(TransactionCase):
    """A schedule slot runs once however many servers run the schedule cron: two servers are
    two transactions on the database, here two real cursors, both reading the same due slot."""

    def setUp(self):
        super().setUp()
        # Committed data, as two servers see it: made and removed in cursors of their own.
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            pipeline = env["release.pipeline.loader"]._load_text(PIPELINE, "two-servers.yml")
            self.trigger_id = pipeline.trigger_ids.id
            env.flush_all()  # the computed next run first, then the slot set as due
            cr.execute("UPDATE release_pipeline_trigger SET next_run_at = %s WHERE id = %s", [SLOT, self.trigger_id])
        self.addCleanup(self._drop, pipeline.id)

    def _drop(self, pipeline_id):
        with self.registry.cursor() as cr:
            api.Environment(cr, SUPERUSER_ID, {})["release.pipeline"].browse(pipeline_id).with_context(active_test=False).unlink()

    def _server(self):
        cr = self.registry.cursor()
        self.addCleanup(cr.close)
        return api.Environment(cr, SUPERUSER_ID, {})["release.pipeline.trigger"].browse(self.trigger_id)

    def test_two_servers_due_for_one_slot_claim_it_once(self):
        first, second = self._server(), self._server()
        self.assertEqual((first.next_run_at, second.next_run_at), (SLOT, SLOT), "both servers read the slot as due")
        self.assertEqual(first._claim_slot(NOW), SLOT)
        self.assertFalse(second._claim_slot(NOW), "while the first server's transaction holds the slot")
        first.env.cr.commit()
        self.assertFalse(second._claim_slot(NOW), "after it committed: the second still read the old slot, and does not take it")
        second.env.cr.rollback()
        late = self._server()  # a later tick, on either server
        self.assertEqual(late.next_run_at, SLOT + dt.timedelta(hours=1))
        self.assertFalse(late.search([("id", "=", late.id), ("next_run_at", "<=", NOW)]), "nothing is due until the next slot")
