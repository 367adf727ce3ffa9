"""Changes in seconds: HubSpot webhooks and Salesforce polling queue a debounced run of each
sync a change affects (see debounce.py)."""
