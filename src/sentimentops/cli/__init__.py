"""The sentimentops command line: one Typer sub-app per capability."""
