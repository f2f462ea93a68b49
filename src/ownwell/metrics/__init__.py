"""Care metrics (SPEC "Metrics"): computed on request from cases, timelines, commitments,
feedback and orders."""
