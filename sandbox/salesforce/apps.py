from django.apps import AppConfig


class SalesforceSandboxConfig(AppConfig):
    name = "sandbox.salesforce"
    label = "sandbox_salesforce"
    verbose_name = "Salesforce sandbox"
