"""Resolution offers within per-person authority, and supervisor approval above it (P8)."""
