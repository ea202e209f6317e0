"""Monitoring: text and prediction drift, performance with and without labels, alerts, history.

``results.py`` holds what a monitoring run measures; ``descriptors.py`` and ``drift.py`` compare
current reviews with the reference, ``performance.py`` and ``estimation.py`` measure or estimate
accuracy, ``alerts.py`` turns results into alerts, ``history.py`` records runs and plots trends,
and ``run.py`` ties them together for the CLI and the flows.
"""
