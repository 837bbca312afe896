from . import release_environment
from . import release_environment_kinds
from . import release_artifact
from . import release_deployment
from . import release_target_receipt
from . import image
from . import iac
