"""govcenter settings, split by concern; every value comes from the environment.

See docs/configuration.md for every variable and its default.
"""

from .analytics import *  # noqa: F403
from .api import *  # noqa: F403
from .base import *  # noqa: F403
from .bikeshare import *  # noqa: F403
from .cases import *  # noqa: F403
from .database import *  # noqa: F403
from .env import ConfigError
from .logging import *  # noqa: F403
from .ops import *  # noqa: F403
from .parking import *  # noqa: F403
from .security import *  # noqa: F403
from .security import insecure_reasons
from .tasks import *  # noqa: F403

_reasons = insecure_reasons(debug=DEBUG, secret_key=SECRET_KEY, allowed_hosts=ALLOWED_HOSTS)  # noqa: F405
if _reasons:
    raise ConfigError(f"refusing to start with DEBUG off: {_reasons[0]}")
