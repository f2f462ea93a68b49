"""The transactional outbox: every message to a customer or staff member starts as a row."""
