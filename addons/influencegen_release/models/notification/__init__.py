from . import release_notification_rule
from . import release_notification
