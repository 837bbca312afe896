from . import release_settings
from . import res_config_settings
