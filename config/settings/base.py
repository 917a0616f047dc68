"""Settings shared by every environment; each value comes from the environment."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import environ

from common.versions import platform_version

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()

SECRET_KEY = env("SECRET_KEY")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# The installed distribution's version (pyproject.toml), read once in common.versions.
PLATFORM_VERSION = platform_version()

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "template_partials",
    "axes",
    "common",
    "annotation",
    "guidelines",
    "analysis",
    "exports",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Outside CommonMiddleware, so it sees a missing-slash 404 already redirected.
    "common.errors.DomainErrorMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "common.middleware.ContentSecurityPolicyMiddleware",
    # Last, as django-axes asks: turns a locked-out login into the lockout page (429).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "builtins": ["template_partials.templatetags.partials"],
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "common.context_processors.navigation",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

DATABASES = {"default": env.db("DATABASE_URL")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "common.User"
AUTHENTICATION_BACKENDS = [
    # Refuses a locked-out username + address before any password is checked.
    "common.auth.LoginThrottleBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    # Catches what the similarity ratio lets through: "crowd5crowd5" for user crowd5.
    {"NAME": "common.auth.PasswordNotDerivedValidator"},
]

# Log-in throttling (django-axes; why axes: README "Libraries"). Failures are counted
# per username and client address in PostgreSQL, so every web process shares them; the
# next attempt after AXES_FAILURE_LIMIT failures gets the lockout page (429) or, on
# /api/auth/token/, a JSON 429, until AXES_COOLOFF_TIME has passed.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "common.auth.lockout_response"
AXES_DISABLE_ACCESS_LOG = True  # successful log-ins are not needed; failures are kept
# The client's address (log-in lockout, crowd-link rate limit: common.ratelimit):
# REMOTE_ADDR, unless TRUSTED_PROXY_COUNT reverse proxies stand in front of gunicorn,
# each appending the address it saw to X-Forwarded-For; then the entry the outermost
# proxy appended. Entries left of it are the client's own and could be forged.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
AXES_IPWARE_PROXY_ORDER = "left-most"
if TRUSTED_PROXY_COUNT:
    AXES_IPWARE_META_PRECEDENCE_ORDER: tuple[str, ...] = ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR")
    AXES_IPWARE_PROXY_COUNT: int | None = TRUSTED_PROXY_COUNT - 1
else:
    AXES_IPWARE_META_PRECEDENCE_ORDER = ("REMOTE_ADDR",)
    AXES_IPWARE_PROXY_COUNT = None

# Crowd entry links (annotation/views_tasks.py): new worker accounts one client address
# may open through one link per hour. The per-link total is the task pool's own cap.
CROWD_ENTRY_NEW_WORKERS_PER_ADDRESS_PER_HOUR = env.int(
    "CROWD_ENTRY_NEW_WORKERS_PER_ADDRESS_PER_HOUR", default=3
)

# A cache every process shares (rate limits) when CACHE_URL is a redis:// URL; the
# per-process memory cache otherwise (the demo, tests).
CACHE_URL = env("CACHE_URL", default="")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
        if CACHE_URL.startswith(("redis://", "rediss://", "unix://"))
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# Invitations to a project (common/services.py) are sent from this address.
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="judgebench@localhost")
# EMAIL_URL, e.g. smtp+tls://user:password@mail.example.org:587; the demo prints mail.
_email = env.email_url("EMAIL_URL", default="consolemail://")
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email["EMAIL_HOST"] or "localhost"
EMAIL_PORT = _email["EMAIL_PORT"] or 25
EMAIL_HOST_USER = _email["EMAIL_HOST_USER"] or ""
EMAIL_HOST_PASSWORD = _email["EMAIL_HOST_PASSWORD"] or ""
EMAIL_USE_TLS = bool(_email.get("EMAIL_USE_TLS"))
EMAIL_USE_SSL = bool(_email.get("EMAIL_USE_SSL"))
PROJECT_INVITATION_DAYS = env.int("PROJECT_INVITATION_DAYS", default=14)
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=str(BASE_DIR / "var" / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(BASE_DIR / "var" / "media"))
MEDIA_URL = "/media/"

# Large output files are streamed to disk rather than held in memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 20 * 1024 * 1024
IMPORT_MAX_FILE_BYTES = env.int("IMPORT_MAX_FILE_BYTES", default=1024 * 1024 * 1024)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        # TokenAuthentication with a short per-process cache (see common/api/auth.py).
        "common.api.auth.CachedTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "common.api.schema.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "common.api.errors.exception_handler",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "JudgeBench API",
    "DESCRIPTION": "Systematic human annotation of LLM outputs.",
    "VERSION": PLATFORM_VERSION,
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Several apps have a `status` or `format` choice; name each set after its owner.
    "ENUM_NAME_OVERRIDES": {
        "TaskStatusEnum": "annotation.models.TaskStatus",
        "ReportStatusEnum": "analysis.models.ReportStatus",
        "ExportStatusEnum": "exports.models.ExportStatus",
        "ExportFormatEnum": "exports.models.ExportFormat",
        "OutputFileFormatEnum": ["jsonl", "csv", "parquet"],
    },
}

CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="redis://127.0.0.1:6379/0")
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=None)
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 60 * 30
CELERY_TASK_TIME_LIMIT = 60 * 35
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 60 * 60}
# Give up publishing after a few seconds: a request must not hang on a dead broker
# (common/jobs.py answers 503 and leaves the job to the recovery below).
CELERY_BROKER_CONNECTION_TIMEOUT = 3
# `celery -A config beat` (one process) runs these; docs/deploy.md.
CELERY_BEAT_SCHEDULE = {
    # Expired leases back to the queue, so progress pages count them as open.
    "slot-leases-expire": {
        "task": "annotation.tasks.slot_leases_expire_task",
        "schedule": 60.0,
    },
    # Reports whose message was lost or whose worker died: sent again, up to 3 runs.
    "agreement-reports-recover": {
        "task": "analysis.tasks.agreement_reports_recover_task",
        "schedule": 5 * 60.0,
    },
    # Exports likewise (up to 5 runs), and files past EXPORT_RETENTION_HOURS deleted.
    "export-jobs-maintain": {
        "task": "exports.tasks.export_jobs_maintain_task",
        "schedule": 5 * 60.0,
    },
}

# Exports (docs/exports.md). Finished files live in MEDIA_ROOT/exports/ for this long.
EXPORT_RETENTION_HOURS = env.int("EXPORT_RETENTION_HOURS", default=72)
# Task exports up to this many rows may be downloaded directly (streamed); larger ones,
# and every Parquet/HF/PDF export, run as Celery jobs.
EXPORT_DIRECT_MAX_ROWS = env.int("EXPORT_DIRECT_MAX_ROWS", default=50_000)
# Bytes of COPY output (whole rows) parsed at a time, and rows per Parquet row group:
# together they bound an export's memory, whatever its size.
EXPORT_READ_BLOCK_BYTES = env.int("EXPORT_READ_BLOCK_BYTES", default=4 * 1024 * 1024)
EXPORT_PARQUET_ROW_GROUP = env.int("EXPORT_PARQUET_ROW_GROUP", default=65_536)

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_HTTPONLY = True

# Settings read elsewhere, declared here with their defaults.
# Seconds an API token stays in a process's cache (common/api/auth.py).
API_TOKEN_CACHE_SECONDS = env.float("API_TOKEN_CACHE_SECONDS", default=30.0)
# The claim path's statements are prepared on the server (annotation/services).
ANNOTATION_PREPARED_STATEMENTS = env.bool("ANNOTATION_PREPARED_STATEMENTS", default=True)
# Words the blinding check looks for; None: annotation.services.blinding's own list.
ANNOTATION_BLINDING_TERMS: list[str] | None = None
# The symbol pay amounts are shown with (read plainly: django-environ takes "$" for a
# reference to another variable).
JUDGEBENCH_PAY_CURRENCY = os.environ.get("JUDGEBENCH_PAY_CURRENCY", "$")
# Dotted path of a callable (actor, version) -> bool narrowing which annotators read a
# guideline version; None: project annotators (guidelines/selectors.py).
GUIDELINES_ANNOTATOR_CHECK: str | None = None

LOG_LEVEL = env("LOG_LEVEL", default="WARNING")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"client_errors": {"()": "common.errors.ClientErrorsWithoutTraceback"}},
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django's defaults give "django" a console handler of its own (in DEBUG) besides
        # the root's, which printed every line twice; its records go to the root only.
        "django": {"handlers": [], "level": LOG_LEVEL, "propagate": True},
        # A refused request is logged in one line, without a traceback.
        "django.request": {"filters": ["client_errors"]},
    },
}
