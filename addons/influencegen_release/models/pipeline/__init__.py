from . import release_repository
from . import release_pipeline
from . import release_pipeline_trigger
from . import release_stage
from . import release_task
from . import release_gate
from . import release_pipeline_loader
