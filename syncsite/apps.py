from django.apps import AppConfig


class SyncsiteConfig(AppConfig):
    name = "syncsite"
    verbose_name = "Syncsite"
