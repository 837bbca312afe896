"""Odoo targets: module packages, the target-side deploy agent and the client that drives it."""
