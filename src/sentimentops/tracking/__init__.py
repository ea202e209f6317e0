"""Experiment tracking and the model registry: the only package that imports MLflow."""
