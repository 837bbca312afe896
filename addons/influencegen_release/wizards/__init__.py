from . import release_run_wizard
