"""P9: confirm resolution with the customer, check in weeks later, collect CSAT and CES."""
