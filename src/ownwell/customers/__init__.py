"""Customers: identifiers, preferences, personal contact and remembered facts."""
