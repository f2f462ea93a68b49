"""Incidents (P11): one problem, many affected customers, a named concierge per group, and every
update fanned out to all of them through the outbox."""
