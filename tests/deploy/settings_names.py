"""Whether an environment variable is a real setting: deployment files (Terraform, compose)
configure the services by environment, and a typo there would be silently ignored."""

from __future__ import annotations

from pydantic import BaseModel

from sentimentops.config import ENV_PREFIX, Settings

__all__ = ["is_setting"]


def is_setting(variable: str) -> bool:
    """Whether an environment variable names a field of Settings (SENTIMENTOPS_A__B)."""
    if variable == "SENTIMENTOPS_HOME":
        return True
    model: type[BaseModel] = Settings
    parts = variable.removeprefix(ENV_PREFIX).lower().split("__")
    for index, part in enumerate(parts):
        field = model.model_fields.get(part)
        if field is None:
            return False
        annotation = field.annotation
        if index < len(parts) - 1:
            if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
                return False
            model = annotation
    return True
