from . import release_deployer_n8n
from . import release_action_n8n
