"""Candidate models, training with search, evaluation and model cards."""
