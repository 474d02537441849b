"""Helpers of the deployment tests: offline validation against a pinned Kubernetes version."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import kubernetes_validate.utils
import yaml

# The Kubernetes version the manifests are validated against (strict: no unknown fields).
K8S_VERSION = "1.33.0"
ROOT = Path(__file__).resolve().parents[3]


def documents(path: Path) -> list[dict[str, Any]]:
    """The YAML documents of a rendered manifest file."""
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def validate(document: dict[str, Any]) -> None:
    """Validate one Kubernetes object against the pinned schemas (strict)."""
    kubernetes_validate.validate(document, K8S_VERSION, strict=True)


def validate_as(value: Any, definition: str) -> None:
    """Validate a part of a document against one Kubernetes definition (e.g. ``core.v1.EnvVar``)."""
    schema_dir = f"kubernetes-json-schema/v{K8S_VERSION}-local-strict"
    defs = kubernetes_validate.utils.schema_contents(f"{schema_dir}/_definitions.json", K8S_VERSION)
    schema = {"$ref": f"#/$defs/io.k8s.api.{definition}", "$defs": defs["$defs"]}
    jsonschema.Draft202012Validator(schema).validate(value)
