from django.apps import AppConfig


class HubSpotSandboxConfig(AppConfig):
    name = "sandbox.hubspot"
    label = "sandbox_hubspot"
    verbose_name = "HubSpot sandbox"
