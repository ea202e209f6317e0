"""Training as a job: the data it trains on (data.py); train, track and gate (job.py)."""
