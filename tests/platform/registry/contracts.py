"""Contract texts for the registry tests, built from a few parameters."""

from __future__ import annotations


def contract(
    domain: str,
    name: str,
    version: str = "1.0.0",
    *,
    fields: str = "  - {name: id, type: string, required: true}\n",
    inputs: str = "",
    description: str = "A product.",
    team: str = "team",
) -> str:
    text = (
        f"domain: {domain}\nname: {name}\nversion: {version}\nstatus: active\n"
        f"description: {description}\n"
        f"owner: {{team: {team}, contact: {team}@example.com}}\n"
        f"fields:\n{fields}"
        "primary_key: [id]\n"
        "ports:\n"
    )
    if inputs:
        text += f"  inputs:\n{inputs}"
    text += "  outputs:\n    - {kind: kafka_topic}\n    - {kind: warehouse_table}\n"
    return text


def publish_body(*texts: str) -> dict[str, object]:
    return {"contracts": [{"file": f"contracts/c{i}.yaml", "text": t} for i, t in enumerate(texts)]}
