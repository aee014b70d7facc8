"""The HTTP surface that is ours: readiness, metrics (and pages as they land)."""
