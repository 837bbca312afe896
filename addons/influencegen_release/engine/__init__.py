"""Plain-Python core of InfluenceGen Release.

Nothing in this package imports ``odoo``: it is loaded by the Odoo models, by the scripts and
by the fast unit tests in the repository's ``tests/`` folder alike.
"""
