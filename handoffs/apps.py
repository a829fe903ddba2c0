from django.apps import AppConfig


class HandoffsConfig(AppConfig):
    name = "handoffs"
    verbose_name = "Handoffs"
    default_auto_field = "django.db.models.BigAutoField"
