"""Stock settings: nothing tuned. SQLite in the directory named by FLOOR_DATA_DIR."""

import os
from pathlib import Path

SECRET_KEY = "floor-bench-only"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = ["channels", "floor"]
MIDDLEWARE = []
ROOT_URLCONF = "floor.urls"
ASGI_APPLICATION = "floor.asgi.application"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": Path(os.environ.get("FLOOR_DATA_DIR", ".")) / "floor.sqlite3",
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
USE_TZ = True
