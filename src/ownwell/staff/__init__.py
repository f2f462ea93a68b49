"""Departments, staff members, roles, authority limits and API tokens."""
