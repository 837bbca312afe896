from . import release_deployer_n8n
