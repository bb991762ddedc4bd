from django.db import models


class Order(models.Model):
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "floor"
