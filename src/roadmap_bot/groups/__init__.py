"""Study groups: subscriptions, schedules, the delivery ledger's deliverer and digests."""
