"""Brigade settings: everything comes from the environment, with safe defaults.

The defaults give the embedded set-up: SQLite in the data dir, the in-memory channel layer, one daphne
process. See the configuration table in README.md.
"""

import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VERSION = "0.1.0"


def envbool(name: str, default: str) -> bool:
    value = os.getenv(name, default).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), not {value!r}")


def envint(name: str, default: str) -> int:
    value = os.getenv(name, default)
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}") from None


def envsecret(name: str) -> str | None:
    """The value of NAME, or the content of the file named by NAME_FILE (systemd credentials, docker)."""
    if os.getenv(name):
        return os.environ[name]
    path = os.getenv(f"{name}_FILE")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE: cannot read {path}: {exc}") from None
    return None


DATA_DIR = Path(os.getenv("KDS_DATA_DIR") or BASE_DIR / "var").resolve()
# The data dir holds the database (sessions, PIN hashes, sales), the secret and signing keys and the
# archives: the server's user only.
DATA_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
DATA_DIR.chmod(0o700)


def _generated_secret_key() -> str:
    """Read the secret key from the data dir, creating it (readable by the owner only) on first run."""
    path = DATA_DIR / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(50))
    return path.read_text().strip()


SECRET_KEY = envsecret("SECRET_KEY") or _generated_secret_key()
DEBUG = envbool("DEBUG", "false")

KDS_ROLE = os.getenv("KDS_ROLE", "store")
if KDS_ROLE not in ("store", "cloud"):
    raise ImproperlyConfigured(f"KDS_ROLE must be 'store' or 'cloud', not {KDS_ROLE!r}")
KDS_CLOUD_URL = os.getenv("KDS_CLOUD_URL", "")
KDS_CLOUD_TOKEN = envsecret("KDS_CLOUD_TOKEN") or ""

# Tablets and kitchen TVs reach the server by whatever LAN address or name it has today (DHCP, mDNS),
# so the default accepts any Host. Every page still needs a paired device or a staff login.
ALLOWED_HOSTS = [h.strip() for h in os.getenv("ALLOWED_HOSTS", "*").split(",") if h.strip()]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in os.getenv("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "channels",
    "django_htmx",
    "axes",
    "accounts",
    "printing",
    "orders",
    "kds",
    "fiscal",
    "sync",
    "config",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "accounts.access.DeviceMiddleware",
    "axes.middleware.AxesMiddleware",  # last: answers a locked-out admin login with its page
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.access.device_context",
            ],
        },
    },
]

# SQLite by default: WAL so readers never wait for the writer, a busy timeout so writers queue instead
# of failing, and IMMEDIATE transactions so a transaction takes the write lock up front (no deadlock
# when two read-then-write transactions race, which is what sequence allocation does).
#
# synchronous=FULL: a commit returns only once the write-ahead log is on the disk, so a receipt handed to
# a customer survives a power cut the next instant (with NORMAL the last commits before a cut may roll
# back, and their receipt numbers be given again). bench/sealing.py measures what it costs.
DEFAULT_SQLITE = f"sqlite:///{DATA_DIR / 'brigade.sqlite3'}"
SQLITE_SYNCHRONOUS = os.getenv("KDS_SQLITE_SYNCHRONOUS", "FULL").upper()
if SQLITE_SYNCHRONOUS not in ("FULL", "EXTRA", "NORMAL"):
    raise ImproperlyConfigured(f"KDS_SQLITE_SYNCHRONOUS must be FULL, EXTRA or NORMAL, not {SQLITE_SYNCHRONOUS!r}")
DATABASES = {"default": dj_database_url.parse(os.getenv("DATABASE_URL") or DEFAULT_SQLITE, conn_max_age=0)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": f"PRAGMA journal_mode=WAL; PRAGMA synchronous={SQLITE_SYNCHRONOUS}; PRAGMA foreign_keys=ON;",
    }
    # SQLite creates the -wal and -shm files with the database file's permissions: a database file
    # made owner-only before SQLite first opens it keeps all three owner-only.
    _sqlite_file = Path(DATABASES["default"]["NAME"])
    if _sqlite_file.parent == DATA_DIR:
        os.close(os.open(_sqlite_file, os.O_WRONLY | os.O_CREAT, 0o600))
        for _path in (_sqlite_file, Path(f"{_sqlite_file}-wal"), Path(f"{_sqlite_file}-shm")):
            if _path.exists():
                _path.chmod(0o600)
    DATABASES["default"]["TEST"] = {"NAME": os.getenv("KDS_TEST_DB_NAME") or None}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.getenv("REDIS_URL", "")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # Kitchen screens stay connected for days: group membership must outlive channels-redis'
            # 24 h default. Consumers also re-join their groups periodically (see kds.consumers).
            "CONFIG": {"hosts": [REDIS_URL], "group_expiry": 7 * 24 * 3600, "capacity": 1000},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": 1000}}}

AUTH_USER_MODEL = "accounts.User"
# Password logins (the admin's) go through django-axes first: AXES_FAILURE_LIMIT wrong passwords for an
# account, or from an address, lock further tries for AXES_COOLOFF_TIME; managers see and lift the locks
# in the admin ("Access attempts"). PIN logins on tills have their own lock-out (accounts.pins).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "accounts.access.ManagerBackend",  # ModelBackend + managers hold every admin permission
]
AXES_FAILURE_LIMIT = envint("KDS_ADMIN_MAX_FAILURES", "5")
AXES_COOLOFF_TIME = timedelta(minutes=envint("KDS_ADMIN_LOCKOUT_MINUTES", "15"))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # per account, and per address
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "access/admin_locked.html"
AXES_VERBOSE = False
LOGIN_URL = "orders:pin_login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = os.getenv("LANGUAGE_CODE", "fr")
LANGUAGES = [("fr", _("French")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.getenv("TIME_ZONE", "Europe/Paris")
USE_I18N = True
USE_TZ = True
# Off: ids, sequence numbers and counters end up in markup, URLs and hx-vals, where "1 196" breaks
# them. Money is grouped by the `money` filter itself.
USE_THOUSAND_SEPARATOR = False

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = DATA_DIR / "media"
# Static files are served by WhiteNoise from the app directories, so daphne alone is enough and no
# collectstatic step is needed on a store server.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

SESSION_COOKIE_AGE = 12 * 3600  # one service day; the device cookie, not the session, keeps a tablet paired
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie; kept readable for JS fetch
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
DATA_UPLOAD_MAX_MEMORY_SIZE = 256 * 1024  # orders are small; refuse oversize bodies early

# Access
DEVICE_COOKIE_NAME = "brigade_device"
DEVICE_COOKIE_MAX_AGE = 10 * 365 * 24 * 3600
# The service lane's pool (tills', kiosks' and screens' reads; their writes have one thread of their own):
# a call that waits holds one thread, the others go on serving (core.lanes).
SERVICE_THREADS = envint("KDS_SERVICE_THREADS", "4")
if SERVICE_THREADS < 2:
    raise ImproperlyConfigured("KDS_SERVICE_THREADS must be at least 2: one lock wait must not stop the service")
BACK_OFFICE_THREADS = envint("KDS_BACK_OFFICE_THREADS", "4")  # threads for admin, fiscal and static requests (core.lanes)
PIN_MAX_FAILURES = envint("KDS_PIN_MAX_FAILURES", "5")
PIN_LOCKOUT_SECONDS = envint("KDS_PIN_LOCKOUT_SECONDS", "300")
# Orders: a discount above this percent of the price needs a manager's PIN.
KDS_DISCOUNT_MANAGER_THRESHOLD = envint("KDS_DISCOUNT_MANAGER_THRESHOLD", "10")
PIN_IDLE_SECONDS = envint("KDS_PIN_IDLE_SECONDS", "300")  # a PIN login on a shared screen ends after this idle time (0: never)

# Fiscal
FISCAL_KEY_PATH = DATA_DIR / "fiscal_ed25519.pem"
FISCAL_DAILY_CLOSURE_HOUR = envint("KDS_DAILY_CLOSURE_HOUR", "4")  # business day rolls over at this local hour

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.getenv("LOG_LEVEL", "INFO")},
    "loggers": {"django.channels.server": {"level": "WARNING"}, "daphne": {"level": "WARNING"}},
}
