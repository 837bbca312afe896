from . import release_action_iac
from . import release_run_iac
from . import release_deployer_iac
