from . import release_run_wizard
from . import release_approval_decision
from . import release_parity
from . import release_approval_escalate
from . import release_rehearsal_override
