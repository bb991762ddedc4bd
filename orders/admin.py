# The admin is split by concern; importing the modules registers their ModelAdmins.
from orders import admin_menu  # noqa: F401
