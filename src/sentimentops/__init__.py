"""sentimentops: an end-to-end MLOps reference system for review sentiment classification."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("sentimentops")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
