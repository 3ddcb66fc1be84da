"""Dynamics 365 / Dataverse connector: msal login, EntityDefinitions, change tracking, writes."""

from connectors.dynamics.connector import DynamicsConnector

__all__ = ["DynamicsConnector"]
