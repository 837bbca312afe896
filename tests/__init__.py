"""Tests of InfluenceGen Release, and what makes its engine importable without Odoo.

``influencegen_release/__init__.py`` imports the Odoo models, so importing this package
registers the addon as a bare namespace: ``influencegen_release.engine`` then imports on its
own, which also proves that the engine never needs ``odoo``. scripts/bench.py and
scripts/demo.py import this package for the same reason.
"""

import pathlib
import sys
import types

ROOT = pathlib.Path(__file__).resolve().parent.parent
ADDON = ROOT / "addons" / "influencegen_release"

if "influencegen_release" not in sys.modules:
    _package = types.ModuleType("influencegen_release")
    _package.__path__ = [str(ADDON)]
    sys.modules["influencegen_release"] = _package
