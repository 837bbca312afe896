# Imported in dependency order: extensions of a model come after the model they extend.
from . import settings
from . import pipeline
from . import notification
from . import approval
from . import quality
from . import run
from . import delivery
