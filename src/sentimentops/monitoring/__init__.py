"""Monitoring: text and prediction drift, performance with and without labels, alerts, history."""
