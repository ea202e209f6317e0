"""The Prefect flows: tasks that call the jobs (training, batch, monitoring), cached and retried."""
