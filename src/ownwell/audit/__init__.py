"""The audit log: who changed which setting, role, limit, token or record, and from what to what."""
