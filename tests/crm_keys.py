"""The crm tables and the key column of each, as the crm schema defines them."""

from __future__ import annotations

CRM_KEYS = {
    "users": "user_key",
    "accounts": "account_key",
    "contacts": "contact_key",
    "products": "product_key",
    "opportunities": "opportunity_key",
    "opportunity_lines": "line_key",
    "opportunity_contacts": "opportunity_contact_key",
    "activities": "activity_key",
}
