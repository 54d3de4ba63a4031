"""Django wiring: apps, middleware, templates, i18n, static files, paths."""

from __future__ import annotations

from pathlib import Path

from django.utils.translation import gettext_lazy as _

from .env import env_bool, env_int, env_list, env_str

PACKAGE_DIR = Path(__file__).resolve().parent.parent
# Everything the embedded default writes (SQLite, spool, lake, generated keys) lives here.
GOVCENTER_VAR_DIR = Path(env_str("GOVCENTER_VAR_DIR", str(Path.cwd() / "var"))).resolve()

DEBUG = env_bool("GOVCENTER_DEBUG", False)
ALLOWED_HOSTS = env_list("GOVCENTER_ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("GOVCENTER_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "django_prometheus",
    "huey.contrib.djhuey",
    "govcenter.core",
    "govcenter.parking",
    "govcenter.analytics",
    "govcenter.bikeshare",
    "govcenter.congestion",
    "govcenter.ops",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "govcenter.core.middleware.RequestContextMiddleware",
    # Outside everything else, so errors from any layer below leave an API path as JSON.
    "govcenter.core.middleware.ApiErrorMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "govcenter.core.middleware.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "govcenter.core.middleware.AuthenticatedContextMiddleware",
    "govcenter.core.middleware.PasswordExpiryMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "govcenter.urls"
WSGI_APPLICATION = "govcenter.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "govcenter.core.context_processors.shell",
            ],
        },
    },
]

AUTH_USER_MODEL = "core.User"
AUTHENTICATION_BACKENDS = ["govcenter.core.auth.RoleBackend"]
LOGIN_URL = "core:login"
LOGIN_REDIRECT_URL = "core:dashboard"
LOGOUT_REDIRECT_URL = "core:login"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = GOVCENTER_VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serving straight from the app folders keeps `make run` free of a collectstatic step.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
MEDIA_ROOT = Path(env_str("GOVCENTER_MEDIA_DIR", str(GOVCENTER_VAR_DIR / "media")))
GOVCENTER_LAKE_DIR = Path(env_str("GOVCENTER_LAKE_DIR", str(GOVCENTER_VAR_DIR / "lake")))

# `govcenter serve` (waitress): request threads of the one web process.
GOVCENTER_WEB_THREADS = env_int("GOVCENTER_WEB_THREADS", 8)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
