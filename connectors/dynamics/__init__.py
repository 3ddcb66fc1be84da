"""Dynamics 365 / Dataverse connector: msal login, EntityDefinitions, change tracking, writes."""
