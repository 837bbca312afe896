from . import test_seed_pipelines
from . import test_pipeline_sync
from . import test_access_rights
from . import test_ui
from . import test_scheduler
from . import test_recovery
from . import test_notifications
from . import test_approvals
