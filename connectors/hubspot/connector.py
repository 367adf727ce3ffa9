"""The HubSpot connector (CRM v3/v4 API)."""

from connectors.base import Connector, CredentialParam


class HubSpotConnector(Connector):
    key = "hubspot"
    label = "HubSpot"
    default_base_url = "https://api.hubapi.com"
    supports_oauth = True
    batch_size = 100
    credential_params = (
        CredentialParam("access_token", "Private app token or OAuth access token", secret=True),
        CredentialParam("refresh_token", "OAuth refresh token", secret=True, required=False),
        CredentialParam("client_id", "OAuth client id", required=False),
        CredentialParam("client_secret", "OAuth client secret", secret=True, required=False),
    )
