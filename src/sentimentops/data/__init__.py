"""Data layer: loading, validation, splitting and versioning of review datasets."""
