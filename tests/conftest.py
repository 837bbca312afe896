"""Make the addon's plain-Python engine importable without Odoo.

``influencegen_release/__init__.py`` imports the Odoo models, so the package is registered
here as a bare namespace: ``influencegen_release.engine`` then imports on its own, which also
proves that the engine never needs ``odoo``.
"""

import pathlib
import sys
import types

ROOT = pathlib.Path(__file__).resolve().parent.parent
ADDON = ROOT / "addons" / "influencegen_release"

if "influencegen_release" not in sys.modules:
    package = types.ModuleType("influencegen_release")
    package.__path__ = [str(ADDON)]
    sys.modules["influencegen_release"] = package


def pytest_configure(config):
    # Tests that need a service of this machine (the Docker engine, n8n). Pipelines that run
    # the suite inside a hermetic container deselect them with ``-m "not services"``;
    # scripts/test runs everything.
    config.addinivalue_line("markers", "services: needs the Docker engine or an n8n install on this machine")
