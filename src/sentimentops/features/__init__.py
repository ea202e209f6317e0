"""Text preprocessing transformers and feature pipelines."""
