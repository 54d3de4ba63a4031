"""WSGI entry point (waitress in `make run`, gunicorn or uWSGI behind nginx at scale)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "govcenter.settings")

application = get_wsgi_application()
