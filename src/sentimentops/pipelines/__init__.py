"""The jobs of sentimentops as plain functions, and (later) the Prefect flows wrapping them."""
