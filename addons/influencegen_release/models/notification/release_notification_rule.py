from odoo import fields, models


class ReleaseNotificationRule(models.Model):
    _name = "release.notification.rule"
    _description = "Pipeline Notification Rule"
    _order = "pipeline_id, sequence, id"

    pipeline_id = fields.Many2one("release.pipeline", required=True, ondelete="cascade", index=True)
    sequence = fields.Integer(default=10)
    events = fields.Char(required=True, help="Comma-separated events, e.g. build_failed, deploy_succeeded")
    channel_email = fields.Boolean(string="Email")
    channel_slack = fields.Boolean(string="Slack")
    group_ids = fields.Many2many("res.groups", string="Notified groups")
    slack_webhook_ref = fields.Char(
        string="Slack webhook reference", help="env:NAME, file:/path or param:key holding the webhook URL."
    )
