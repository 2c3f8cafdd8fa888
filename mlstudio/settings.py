"""Django settings for MLStudio, read from environment variables only (see .env.example)."""

import os
from datetime import timedelta
from pathlib import Path

from mlstudio import config

BASE_DIR = Path(__file__).resolve().parent.parent


def _plotly_package_data() -> str:
    import plotly

    return str(Path(plotly.__file__).parent / "package_data")


DATA_DIR = config.data_dir()

SECRET_KEY = config.secret_key(DATA_DIR)
# Earlier keys, after a rotation: what they signed or encrypted (registry passwords) still reads.
SECRET_KEY_FALLBACKS = config.env_list("MLSTUDIO_SECRET_KEY_FALLBACKS", [])
DEBUG = config.env_bool("DEBUG", False)
ALLOWED_HOSTS = config.env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = config.env_list("CSRF_TRUSTED_ORIGINS", [])

DATABASES = {"default": config.database(config.env_str("DATABASE_URL", ""), DATA_DIR)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL, REDIS_EMBEDDED = config.redis_url(config.env_str("REDIS_URL", ""), DATA_DIR)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "ninja",
    "workspaces",
    "compute",
    "environments",
    "runs",
    "data",
    "registry",
    "tracking",
    "sweeps",
    "mlstudio",
    "axes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "mlstudio.middleware.PageGZipMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "workspaces.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
    "mlstudio.error_pages.UserErrorPages",
]
# Password sign-in is throttled (django-axes): after MLSTUDIO_LOGIN_FAILURE_LIMIT failures
# for one username from one address, it is refused for MLSTUDIO_LOGIN_LOCKOUT_MINUTES.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = config.env_int("MLSTUDIO_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(
    minutes=config.env_int("MLSTUDIO_LOGIN_LOCKOUT_MINUTES", 15, minimum=1)
)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"

ROOT_URLCONF = "mlstudio.urls"
ASGI_APPLICATION = "mlstudio.asgi.application"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
# plotly.js is served from the plotly package itself: no CDN, no copy in the repository.
STATICFILES_DIRS = [BASE_DIR / "static", ("vendor/plotly", _plotly_package_data())]
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise reads it at start
MEDIA_ROOT = DATA_DIR / "files"
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT},
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Static files through whitenoise: once collected (`manage.py studio` does it at every start),
# with content-hashed names, gzip and brotli copies and far-future cache headers; before
# that (tests, a bare `uvicorn`), straight from the source folders.
MLSTUDIO_STATIC_COLLECTED = config.env_bool("MLSTUDIO_STATIC_COLLECTED", False)
if MLSTUDIO_STATIC_COLLECTED:
    STORAGES["staticfiles"] = {"BACKEND": "mlstudio.staticfiles.StudioStaticStorage"}
WHITENOISE_USE_FINDERS = not MLSTUDIO_STATIC_COLLECTED
WHITENOISE_ROOT = BASE_DIR / "mlstudio" / "public"  # /favicon.ico
WHITENOISE_SKIP_COMPRESS_EXTENSIONS = ["png", "jpg", "gif", "woff", "woff2", "gz", "zip", "map"]

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "mlstudio.channel_layer.BatchingRedisChannelLayer",
        # A consumer waits for its messages with a 5 s blocking read (channels_redis), and
        # redis-py's default read timeout is 5 s too: without a longer one, every watcher
        # that got nothing for 5 s raised TimeoutError and lost its websocket.
        "CONFIG": {
            "hosts": [{"address": REDIS_URL, "socket_timeout": 30}],
            "capacity": 5000,
            "expiry": 30,
        },
    }
}

# Celery: state lives in database rows, so results are ignored. Run queues ack late with
# prefetch 1 so a killed worker's run is redelivered instead of lost.
CELERY_BROKER_URL = config.kombu_url(REDIS_URL)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": config.env_int("MLSTUDIO_BROKER_VISIBILITY_TIMEOUT", 31 * 24 * 3600),
}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "control"
# Each node also consumes its own queue, so a multi-node run can send one task to each of
# several distinct nodes.
CELERY_WORKER_DIRECT = True
# `manage.py studio` runs a node for each cluster and docker target on its own machine; false
# leaves them to `manage.py worker` on other machines.
MLSTUDIO_STUDIO_TARGET_NODES = config.env_bool("MLSTUDIO_STUDIO_TARGET_NODES", True)
# Added to a run's script's nice value on its node (0 to 19): when runs keep the CPU busy, the
# executors and web servers that carry their logs to the browser go first.
MLSTUDIO_RUN_NICENESS = config.env_int("MLSTUDIO_RUN_NICENESS", 10, minimum=0, maximum=19)
# `manage.py studio`'s web server processes, on one port: pages and websockets share this
# many cores (each process is about 120 MB).
MLSTUDIO_WEB_PROCESSES = config.env_int(
    "MLSTUDIO_WEB_PROCESSES", min(2, os.cpu_count() or 1), minimum=1
)
# The address other nodes reach this worker node at, for a multi-node run's rendezvous; by
# default the one this machine uses towards the broker.
MLSTUDIO_NODE_ADDRESS = config.env_str("MLSTUDIO_NODE_ADDRESS", "")
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "runs-fail-lost": config.control_beat("runs.tasks.runs_fail_lost", 15.0),
    "runs-queue-positions": config.control_beat("runs.tasks.runs_queue_positions", 2.0, expires=10),
    "login-links-purge": config.control_beat("workspaces.tasks.login_links_purge", 3600.0),
    "nodes-forget": config.control_beat("compute.tasks.nodes_forget", 3600.0),
    "sweeps-reconcile": config.control_beat("sweeps.tasks.sweeps_reconcile", 10.0, expires=30),
}
# Cluster nodes (`manage.py worker --autoscale`) shrink after idle_seconds_before_scaledown.
CELERY_WORKER_AUTOSCALER = "compute.autoscale:ScaleDownAutoscaler"

# A worker node counts as online while its heartbeat is younger than this.
MLSTUDIO_NODE_HEARTBEAT_SECONDS = config.env_int("MLSTUDIO_NODE_HEARTBEAT_SECONDS", 10, minimum=1)
MLSTUDIO_NODE_OFFLINE_SECONDS = config.env_int("MLSTUDIO_NODE_OFFLINE_SECONDS", 60, minimum=2)
# A node offline this long is forgotten: removed from node lists and target status.
MLSTUDIO_NODE_FORGET_SECONDS = config.env_int("MLSTUDIO_NODE_FORGET_SECONDS", 86400, minimum=60)
MLSTUDIO_LOGIN_LINK_SECONDS = config.env_int("MLSTUDIO_LOGIN_LINK_SECONDS", 24 * 3600, minimum=60)
MLSTUDIO_PUBLIC_URL = config.env_str("MLSTUDIO_PUBLIC_URL", "")
MLSTUDIO_SNAPSHOT_MAX_BYTES = config.env_int(
    "MLSTUDIO_SNAPSHOT_MAX_BYTES", 300 * 1024 * 1024, minimum=1
)
MLSTUDIO_SNAPSHOT_MAX_FILES = config.env_int("MLSTUDIO_SNAPSHOT_MAX_FILES", 2000, minimum=1)
# The model registry: the most one model registered by upload may hold.
MLSTUDIO_MODEL_MAX_BYTES = config.env_int("MLSTUDIO_MODEL_MAX_BYTES", 50 * 1024**3, minimum=1)
# Datastores: the most one file of a datastore may hold, and the folders (colon-separated) under
# which an owner may register a local datastore (an NFS mount every node sees); none by default.
MLSTUDIO_DATA_FILE_MAX_BYTES = config.env_int(
    "MLSTUDIO_DATA_FILE_MAX_BYTES", 50 * 1024**3, minimum=1
)
MLSTUDIO_LOCAL_DATASTORE_ROOTS = [
    p for p in config.env_str("MLSTUDIO_LOCAL_DATASTORE_ROOTS", "").split(":") if p
]
MLSTUDIO_WORK_DIR = DATA_DIR / "work"
# Built virtualenvs (one folder per content hash) and the last build log of each.
MLSTUDIO_ENVS_DIR = DATA_DIR / "envs"
# conda, mamba or micromamba for environments with conda packages; empty: the first on PATH
# (without one, conda packages are installed with pip under their PyPI names).
MLSTUDIO_CONDA = config.env_str("MLSTUDIO_CONDA", "")
# The image an environment starts from when it names neither base_image nor base_dockerfile.
MLSTUDIO_DEFAULT_BASE_IMAGE = config.env_str(
    "MLSTUDIO_DEFAULT_BASE_IMAGE", "mlstudio/python:bookworm"
)
# Run containers get the working folder by copy instead of a mount: automatic when DOCKER_HOST
# names another machine; set it for an engine on this machine that can't see its folders.
MLSTUDIO_DOCKER_COPY_FILES = config.env_bool("MLSTUDIO_DOCKER_COPY_FILES", False)
# A TensorBoard the studio started stops after this long without a request.
MLSTUDIO_TENSORBOARD_IDLE_SECONDS = config.env_int(
    "MLSTUDIO_TENSORBOARD_IDLE_SECONDS", 1800, minimum=10
)
# Run isolation (mlstudio/sandbox.py): a bubblewrap sandbox, as an unprivileged user.
MLSTUDIO_RUN_SANDBOX = config.env_bool("MLSTUDIO_RUN_SANDBOX", True)
MLSTUDIO_RUN_USER = config.env_str("MLSTUDIO_RUN_USER", "mlstudio-run")
MLSTUDIO_RUN_NETWORK = config.env_bool("MLSTUDIO_RUN_NETWORK", True)
# Who may create workspaces: staff members only (the default), or every signed-in account.
MLSTUDIO_WORKSPACE_CREATORS = config.env_choice(
    "MLSTUDIO_WORKSPACE_CREATORS", "staff", ("STAFF", "EVERYONE")
)
# Bounds on what users send (runs/quotas.py, runs/submission.py), each refused with a 4xx.
MLSTUDIO_RUN_FILE_MAX_BYTES = config.env_int(
    "MLSTUDIO_RUN_FILE_MAX_BYTES", 1024 * 1024 * 1024, minimum=1
)
MLSTUDIO_WORKSPACE_QUOTA_BYTES = config.env_int(
    "MLSTUDIO_WORKSPACE_QUOTA_BYTES", 100 * 1024**3, minimum=1
)
MLSTUDIO_TAGS_MAX = config.env_int("MLSTUDIO_TAGS_MAX", 100, minimum=1)
MLSTUDIO_TAG_LENGTH_MAX = config.env_int("MLSTUDIO_TAG_LENGTH_MAX", 1024, minimum=1)
MLSTUDIO_CANCEL_GRACE_SECONDS = config.env_int("MLSTUDIO_CANCEL_GRACE_SECONDS", 10, minimum=0)
MLSTUDIO_RUN_HEARTBEAT_TIMEOUT = config.env_int("MLSTUDIO_RUN_HEARTBEAT_TIMEOUT", 60, minimum=5)
MLSTUDIO_METRIC_NAME_MAX = config.env_int("MLSTUDIO_METRIC_NAME_MAX", 255, minimum=1)
MLSTUDIO_METRICS_PER_RUN = config.env_int("MLSTUDIO_METRICS_PER_RUN", 1000, minimum=1)
MLSTUDIO_METRIC_VALUE_MAX_BYTES = config.env_int(
    "MLSTUDIO_METRIC_VALUE_MAX_BYTES", 1024 * 1024, minimum=64
)
# Uploads of snapshots and blobs may be as large as a snapshot; the limit is checked by us.
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

LOG_LEVEL = config.env_choice(
    "MLSTUDIO_LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
