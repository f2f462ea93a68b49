"""My day: what a person owes, by due time."""
