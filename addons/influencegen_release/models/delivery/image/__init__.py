from . import release_action_image
