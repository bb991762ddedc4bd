from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = _("Orders")

    def ready(self):
        from django.db.models.signals import m2m_changed, post_delete, post_save

        from orders import menu_cache
        from orders.models import Item, ModifierGroup, SetMenuSlot

        # Any edit of the menu's structure empties the per-process cache of it (orders.menu_cache).
        for model in (Item, ModifierGroup, SetMenuSlot):
            post_save.connect(menu_cache.forget, sender=model, dispatch_uid=f"menu_cache.save.{model.__name__}")
            post_delete.connect(menu_cache.forget, sender=model, dispatch_uid=f"menu_cache.delete.{model.__name__}")
        for through in (Item.modifier_groups.through, SetMenuSlot.choices.through):
            m2m_changed.connect(menu_cache.forget, sender=through, dispatch_uid=f"menu_cache.links.{through.__name__}")
