"""Batch data products of the {{ cookiecutter.domain_name }} domain, each bound to its contract.

The contract gives each asset its key, metadata, checks and warehouse table; a function
returns the product's rows *before* the privacy transforms and meshkit validates, masks
and writes them.
"""

from pathlib import Path

import pyarrow as pa
{%- if cookiecutter.__streaming == 'yes' %}
import pyarrow.compute as pc
{%- endif %}
from meshkit.batch import product_asset

CONTRACTS = Path(__file__).resolve().parents[3] / "contracts"
{%- if cookiecutter.__streaming == 'yes' %}


@product_asset(CONTRACTS / "{{ cookiecutter.product_name }}_daily.yaml")
def {{ cookiecutter.product_name }}_daily({{ cookiecutter.product_name }}s: pa.Table) -> pa.Table:
    """New {{ cookiecutter.product_name }}s per day and country, from the streamed product."""
    days = pc.cast({{ cookiecutter.product_name }}s["signed_up_at"], pa.date32())
    counted = (
        pa.table({"day": days, "country": {{ cookiecutter.product_name }}s["country"]})
        .group_by(["day", "country"])
        .aggregate([([], "count_all")])
    )
    return pa.table(
        {
            "day": counted["day"],
            "country": counted["country"],
            "signups": counted["count_all"],
        }
    )
{%- else %}


@product_asset(CONTRACTS / "{{ cookiecutter.product_name }}.yaml")
def {{ cookiecutter.product_name }}(source: pa.Table) -> pa.Table:
    """Current {{ cookiecutter.product_name }}s from the raw change table of the service database."""
    return pa.table(
        {
            "{{ cookiecutter.product_name }}_id": source["id"].cast(pa.string()),
            "email": source["email"],
            "full_name": source["name"],
            "birth_date": source["birth_date"],
            "country": source["country"],
            "signed_up_at": source["created_at"],
        }
    )
{%- endif %}
