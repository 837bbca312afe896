from . import release_action_image
from . import release_deployer_docker
