"""The development stack: real servers on loopback that the demo, the benchmark and the tests
start, and what makes the addon's engine importable without Odoo.

- ``odoo_server``: ``odoo-bin`` serving one database (``Server``), XML-RPC (``Api``), databases
  created with the addon and dropped;
- ``repository``: Git repositories that carry their own pipeline file;
- ``odoo_target``: a target Odoo database to deploy to, and small generated modules to deploy;
- ``n8n_server``, ``registry_server``: a throwaway n8n and container registry;
- ``demo``: the self-delivery demo that ``scripts/demo`` runs on all of the above.

``influencegen_release/__init__.py`` imports the Odoo models, so importing this package
registers the addon as a bare namespace: ``influencegen_release.engine`` then imports on its
own, which also proves that the engine never needs ``odoo``. Nothing here is imported by the
addon itself.
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
