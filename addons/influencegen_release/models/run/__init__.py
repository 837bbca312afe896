from . import release_runner
from . import release_run
from . import release_job
from . import release_job_api
from . import release_run_api
from . import release_action
from . import release_scheduler
