"""Orders and fulfilment events (P3): watch every promise of delivery and tell the customer
about a delay before they have to ask."""
