from . import release_deployer_odoo
