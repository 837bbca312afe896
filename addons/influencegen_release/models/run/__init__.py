from . import release_runner
from . import release_run
from . import release_job
from . import release_job_lease
from . import release_action
from . import release_scheduler
from . import release_scheduler_workers
