"""The Salesforce connector (REST API v60.0)."""

from connectors.base import Connector, CredentialParam


class SalesforceConnector(Connector):
    key = "salesforce"
    label = "Salesforce"
    default_base_url = "https://login.salesforce.com"
    supports_oauth = True
    batch_size = 200
    credential_params = (
        CredentialParam("access_token", "Access token", secret=True),
        CredentialParam("refresh_token", "Refresh token", secret=True, required=False),
        CredentialParam("instance_url", "Instance URL", required=False),
        CredentialParam("client_id", "Connected app consumer key", required=False),
        CredentialParam("client_secret", "Connected app consumer secret", secret=True, required=False),
    )
