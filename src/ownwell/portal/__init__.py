"""The customer portal, reached by a signed link scoped to one customer."""
