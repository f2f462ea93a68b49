"""P12 "I'll find out": questions routed to an expert as commitments, answers kept as knowledge,
and next-issue tips per recurring issue."""
