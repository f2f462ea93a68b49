"""What operators watch: each worker's last sweep, read by /readyz and /metrics."""
