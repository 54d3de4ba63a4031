"""Settings for the test suite: the same wiring, with DEBUG-only defaults allowed.

A sibling of the settings package (not inside it) so the environment defaults below are
in place before ``govcenter.settings`` is first imported and checks them.

Service-backed runs (PostgreSQL, Redis) set GOVCENTER_DATABASE_URL / GOVCENTER_REDIS_URL
in the environment exactly as production would.
"""

import os
import tempfile

os.environ.setdefault("GOVCENTER_DEBUG", "true")
os.environ.setdefault("GOVCENTER_VAR_DIR", tempfile.mkdtemp(prefix="govcenter-test-"))
os.environ.setdefault("GOVCENTER_TASKS_IMMEDIATE", "true")

from govcenter.settings import *  # noqa: E402, F403

# A fast hasher keeps the suite quick; the password policy does not depend on the hasher.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
HUEY["immediate"] = True  # noqa: F405

# A test-only app with one small state machine (tests/workflow_app): the kernel's workflow tests.
# Only where the repository's tests package is importable (pytest from the checkout).
try:
    import tests.workflow_app  # noqa: F401
except ImportError:
    pass
else:
    INSTALLED_APPS = [*INSTALLED_APPS, "tests.workflow_app"]  # noqa: F405
