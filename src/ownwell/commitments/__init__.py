"""Commitments: every promise to a customer, with a due time, an owner and a fate."""
