"""Salesforce connector: OAuth, describe, REST and Bulk API 2.0 extraction, API budget."""

from connectors.salesforce.connector import SalesforceConnector

__all__ = ["SalesforceConnector"]
