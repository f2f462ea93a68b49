"""Cases: one owner always, the status machine, the timeline, transfer, resolve and reopen."""
