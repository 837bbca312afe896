from . import release_deployer_odoo
from . import release_action_odoo
from . import release_rehearsal
