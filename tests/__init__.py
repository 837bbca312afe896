"""Tests of InfluenceGen Release.

Importing ``devstack`` registers the addon as a bare namespace, so that
``influencegen_release.engine`` imports without Odoo (see devstack/__init__.py).
"""

import devstack
