"""Batch prediction: streaming, every row accounted for, resumable."""
