from . import release_approval_rule
from . import release_approval
from . import release_approval_vote
from . import release_uat_session
from . import release_uat_scenario
from . import release_checklist_item
from . import release_window_override
