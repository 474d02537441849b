"""The BigQuery warehouse backend: a dataset per domain, a table per product major.

Resources (logical names; the backend adds the settings' dataset prefix):

- ``dataset`` ``<domain>``: created with meshkit's labels, never deleted;
- ``table`` ``<domain>.<product>_v<major>``: columns (type and mode, as
  ``column_signature`` spells them), time partitioning and clustering from the contract's
  warehouse port, the contract's description;
- ``policy_tags`` ``<domain>.<product>_v<major>``: the policy tag of each personal
  column (``meshkit.contracts.exporters.bigquery.policy_tag`` under the taxonomy given);
- ``iam`` ``<domain>.<product>_v<major> meshkit_reader_<group>``: the reader group's
  ``roles/bigquery.dataViewer`` binding on the table (its group address
  ``meshkit_reader_<group>@<reader_domain>``).

Ownership is by labels: a dataset or table is meshkit's when its labels hold
``meshkit: managed`` (``MARKER``), which apply writes when it creates one. A table at a
desired name without them is never read, changed or deleted.

``read`` takes each planned domain's dataset (``get_dataset``), lists its tables and reads
each (``get_table``), and, where IAM is supported, each owned table's IAM policy. ``apply``
creates a table in one call with its schema (``bigquery_schema`` plus the writers'
``_meshkit_pos``, so the table is what ``BigQueryWarehouseWriter`` expects), partitioning,
clustering, description and labels; it repairs drift where BigQuery can change a table in
place: a missing optional column is added and a required one relaxed (``update_table``
with the schema), a column added out of band dropped (``ALTER TABLE ... DROP COLUMN``),
clustering, description and labels set again. What BigQuery cannot change in place is
refused in the plan with the reason: a changed partitioning (the table has to be copied
into a new one: publish a new major), a column whose type changed, a missing required
column (BigQuery adds only NULLABLE columns).

Capabilities are probed with the IAM API (``tables.getIamPolicy`` on a table that does not
exist): BigQuery answers 404, an endpoint without IAM (the local emulator) 405. Without
IAM, table bindings and policy tags (enforced through IAM's fine-grained reader role)
are "not applicable here" and shown so in the plan, never applied. Without a taxonomy
(``taxonomy=``, the setting ``bigquery_policy_taxonomy``) or a reader group domain
(``reader_domain=``, ``bigquery_reader_domain``) they are not applicable either, and the
plan names the missing setting.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from meshkit.contracts import Contract
from meshkit.contracts.exporters.bigquery import (
    bigquery_schema,
    bigquery_table_options,
    policy_tag,
)
from meshkit.contracts.sql import bigquery_ref, quote_bigquery
from meshkit.errors import ServiceError
from meshkit.ports.base import POSITION_COLUMN
from meshkit_platform.provisioning.resources import Change, Resource

MARKER = {"meshkit": "managed"}
READER_ROLE = "roles/bigquery.dataViewer"
MEMBER_PREFIX = "group:meshkit_reader_"
NO_PARTITIONING = "none"
PROBE_DATASET = "meshkit_capability_probe"
_LEGACY = {"INTEGER": "INT64", "FLOAT": "FLOAT64", "BOOLEAN": "BOOL", "STRUCT": "RECORD"}


def column_signature(field: Mapping[str, Any]) -> str:
    """A schema field (its API JSON) as one comparable text: ``INT64``, ``ARRAY<STRING>``,
    ``STRUCT<a STRING NOT NULL>``, `` NOT NULL`` when REQUIRED. Precision is left out:
    the emulator drops it, and a changed precision is a type change the contract's
    compatibility gate refuses before any plan."""
    kind = _LEGACY.get(str(field["type"]).upper(), str(field["type"]).upper())
    if kind == "RECORD":
        members = ", ".join(f"{m['name']} {column_signature(m)}" for m in field.get("fields", []))
        kind = f"STRUCT<{members}>"
    mode = str(field.get("mode") or "NULLABLE").upper()
    if mode == "REPEATED":
        return f"ARRAY<{kind}>"
    return kind + (" NOT NULL" if mode == "REQUIRED" else "")


def partitioning_text(spec: Mapping[str, Any] | None) -> str:
    """Time partitioning as one text: ``DAY on signed_up_at`` (``none`` without)."""
    if not spec:
        return NO_PARTITIONING
    field = spec.get("field") or "_PARTITIONTIME"
    return f"{spec['type']} on {field}"


def personal_columns(fields: list[dict[str, Any]], prefix: str = "") -> dict[str, str]:
    """``column path -> policy tag`` of the schema's tagged fields, nested ones dotted."""
    out: dict[str, str] = {}
    for f in fields:
        path = prefix + f["name"]
        names = (f.get("policyTags") or {}).get("names") or []
        if names:
            out[path] = names[0]
        out.update(personal_columns(f.get("fields") or [], path + "."))
    return out


def table_attrs(contract: Contract) -> dict[str, Any]:
    """The compared attributes of the contract's table (see the module docstring)."""
    columns = {f["name"]: column_signature(f) for f in bigquery_schema(contract, taxonomy=None)}
    columns[POSITION_COLUMN] = "INT64 NOT NULL"
    options = bigquery_table_options(contract)
    return {
        "columns": columns,
        "partitioning": partitioning_text(options.get("timePartitioning")),
        "clustering": list(options.get("clustering", {}).get("fields", [])),
        "description": contract.description or "",
    }


def policy_tag_categories(contract: Contract) -> dict[str, str]:
    """``column path -> PII category`` of the contract's personal columns."""
    tagged = personal_columns(bigquery_schema(contract))
    return {path: tag.rsplit("/", 1)[1] for path, tag in tagged.items()}


def _problem(exc: Exception) -> str:
    """An API error as one line: its class and status, never a payload."""
    code = getattr(exc, "code", None)
    return f"{type(exc).__name__}{f' ({code})' if code else ''}"


class BigQueryBackend:
    """Datasets and tables of the planned domains in one BigQuery project."""

    name = "bigquery"

    def __init__(
        self,
        client: Any,
        *,
        dataset_prefix: str = "",
        location: str | None = None,
        taxonomy: str | None = None,
        reader_domain: str | None = None,
        retry: Any = None,
        job_retry: Any = None,
    ) -> None:
        """``client``: a ``google.cloud.bigquery.Client`` (``meshkit.clients.bigquery_client``);
        ``taxonomy``: ``projects/<p>/locations/<l>/taxonomies/<id>`` of the policy tags;
        ``reader_domain``: the e-mail domain of the reader groups' Google groups."""
        self.client = client
        self.project = str(client.project)
        self.prefix = dataset_prefix
        self.location = location
        self.taxonomy = taxonomy
        self.reader_domain = reader_domain
        self._retry = {} if retry is None else {"retry": retry}
        self._job_retry = {} if job_retry is None else {"job_retry": job_retry}
        self.foreign: set[tuple[str, str]] = set()
        """Datasets and tables at planned names without the marker (the last ``read``)."""
        self._iam: str | None = None

    # -- capabilities -----------------------------------------------------------------------

    def _probe_iam(self) -> str:
        """``supported``, or why not: the IAM API asked about a table that does not exist."""
        from google.api_core import exceptions

        if self._iam is None:
            probe = f"{self.project}.{PROBE_DATASET}.none"
            try:
                self.client.get_iam_policy(probe, **self._retry)
                self._iam = "supported"
            except (exceptions.MethodNotAllowed, exceptions.MethodNotImplemented) as exc:
                self._iam = (
                    f"not applicable here: the BigQuery endpoint has no IAM API "
                    f"(getIamPolicy answered {exc.code})"
                )
            except (exceptions.NotFound, exceptions.Forbidden):
                self._iam = "supported"  # the API is there; the probe's table is not
            except exceptions.GoogleAPIError as exc:
                raise ServiceError(
                    f"BigQuery project {self.project} does not answer: {_problem(exc)}"
                ) from None
        return self._iam

    def capabilities(self) -> dict[str, str]:
        """Feature → ``supported`` or ``not applicable here: <why>``."""
        iam = self._probe_iam()
        out = {"tables": "supported", "partitioning": "supported"}
        if iam != "supported":
            out["policy_tags"] = iam + "; policy tags are enforced through IAM"
            out["iam"] = iam
            return out
        out["policy_tags"] = (
            "supported" if self.taxonomy
            else "not applicable: no policy-tag taxonomy (setting bigquery_policy_taxonomy)"
        )  # fmt: skip
        out["iam"] = (
            "supported" if self.reader_domain
            else "not applicable: no reader group domain (setting bigquery_reader_domain)"
        )  # fmt: skip
        return out

    def not_applicable(self, desired: Resource) -> str | None:
        """Why a policy tag or an IAM binding cannot be provisioned here (``None`` if it can)."""
        feature = {"policy_tags": "policy_tags", "iam": "iam"}.get(desired.kind)
        if feature is None:
            return None
        state = self.capabilities()[feature]
        return None if state == "supported" else state

    # -- read -------------------------------------------------------------------------------

    def dataset_id(self, logical: str) -> str:
        """The BigQuery dataset of a domain (the settings' prefix, then the domain)."""
        return self.prefix + logical

    def _table_id(self, name: str) -> str:
        dataset, _, table = name.partition(".")
        return f"{self.project}.{self.dataset_id(dataset)}.{table}"

    def read(self, domains: frozenset[str]) -> dict[tuple[str, str], dict[str, Any]]:
        """Owned datasets and tables of ``domains``, their policy tags and (with IAM) the
        reader groups' bindings."""
        from google.api_core import exceptions

        out: dict[tuple[str, str], dict[str, Any]] = {}
        self.foreign = set()
        try:
            for domain in sorted(domains):
                dataset_id = f"{self.project}.{self.dataset_id(domain)}"
                try:
                    dataset = self.client.get_dataset(dataset_id, **self._retry)
                except exceptions.NotFound:
                    continue
                if (dataset.labels or {}).items() >= MARKER.items():
                    out[("dataset", domain)] = {}
                else:
                    self.foreign.add(("dataset", domain))
                for item in self.client.list_tables(dataset_id, **self._retry):
                    table = self.client.get_table(item.reference, **self._retry)
                    name = f"{domain}.{table.table_id}"
                    if not (table.labels or {}).items() >= MARKER.items():
                        self.foreign.add(("table", name))
                        continue
                    out.update(self._read_table(name, table))
        except exceptions.GoogleAPIError as exc:
            raise ServiceError(
                f"BigQuery project {self.project}: reading the datasets failed: {_problem(exc)}"
            ) from None
        return out

    def _read_table(self, name: str, table: Any) -> dict[tuple[str, str], dict[str, Any]]:
        fields = [f.to_api_repr() for f in table.schema]
        tp = table.time_partitioning
        out: dict[tuple[str, str], dict[str, Any]] = {
            ("table", name): {
                "columns": {f["name"]: column_signature(f) for f in fields},
                "partitioning": partitioning_text(
                    {"type": tp.type_, "field": tp.field} if tp is not None else None
                ),
                "clustering": list(table.clustering_fields or []),
                "description": table.description or "",
            }
        }
        tags = personal_columns(fields)
        if tags and self.capabilities()["policy_tags"] == "supported":
            mine = f"{self.taxonomy}/policyTags/"
            out[("policy_tags", name)] = {
                "columns": {p: t.removeprefix(mine) for p, t in sorted(tags.items())}
            }
        if self.capabilities()["iam"] == "supported":
            policy = self.client.get_iam_policy(table.reference, **self._retry)
            for binding in policy.bindings:
                if binding["role"] != READER_ROLE:
                    continue
                for member in sorted(binding["members"]):
                    if member.startswith(MEMBER_PREFIX) and member.endswith(self._at):
                        role = member.removeprefix("group:").removesuffix(self._at)
                        out[("iam", f"{name} {role}")] = {"role": READER_ROLE}
        return out

    @property
    def _at(self) -> str:
        return f"@{self.reader_domain}"

    # -- judge ------------------------------------------------------------------------------

    def judge(self, desired: Resource, live: dict[str, Any]) -> tuple[str, str] | None:
        """What BigQuery cannot change in place: a column's type, a missing required
        column, the partitioning. Alone they make the table ``not applicable``; beside a
        repairable difference the table is an update that leaves them as they are."""
        if desired.kind != "table":
            return None
        have, want = live.get("columns", {}), desired.attrs["columns"]
        cannot: list[str] = []
        retyped = [
            n
            for n in want
            if n in have and have[n].removesuffix(" NOT NULL") != want[n].removesuffix(" NOT NULL")
        ]
        if retyped:
            cannot.append(f"type of {', '.join(retyped)} changed: a breaking change needs a "
                          "new major (v2 beside v1)")  # fmt: skip
        tightened = [
            n for n in want
            if n in have and n not in retyped and want[n].endswith(" NOT NULL")
            and not have[n].endswith(" NOT NULL")
        ]  # fmt: skip
        missing_required = [n for n in want if n not in have and want[n].endswith(" NOT NULL")]
        if missing_required or tightened:
            cannot.append(
                f"required column {', '.join(missing_required + tightened)} missing or nullable: "
                "BigQuery adds only NULLABLE columns and never makes one REQUIRED"
            )
        if live.get("partitioning") != desired.attrs["partitioning"]:
            cannot.append(
                f"partitioning {live.get('partitioning')} -> {desired.attrs['partitioning']}: "
                "BigQuery cannot change a table's partitioning in place (copy it into a new "
                "table: publish a new major)"
            )
        if not cannot:
            return None
        if self._repairable(desired, live):
            return ("update", "differs from the contract; left as it is: " + "; ".join(cannot))
        return ("not applicable", "; ".join(cannot))

    @staticmethod
    def _repairable(desired: Resource, live: dict[str, Any]) -> bool:
        """Whether the table differs in something BigQuery can change in place."""
        have, want = live.get("columns", {}), desired.attrs["columns"]
        return (
            any(n not in want for n in have)
            or any(n not in have and not t.endswith(" NOT NULL") for n, t in want.items())
            or any(n in have and have[n] == want[n] + " NOT NULL" for n in want)
            or any(live.get(a) != desired.attrs[a] for a in ("clustering", "description"))
        )

    # -- apply ------------------------------------------------------------------------------

    def apply(self, change: Change, desired: Resource | None, contract: Contract | None) -> None:
        """Carry out one change."""
        from google.api_core import exceptions

        try:
            if change.kind == "dataset":
                if change.action == "create":
                    self._create_dataset(change.name)
            elif change.kind == "table":
                if change.action == "delete":
                    self.client.delete_table(
                        self._table_id(change.name), not_found_ok=True, **self._retry
                    )
                elif change.action == "create":
                    assert contract is not None
                    self._create_table(change.name, contract)
                else:
                    assert desired is not None
                    assert contract is not None
                    self._repair_table(change.name, desired, contract)
            elif change.kind == "policy_tags":
                self._set_policy_tags(change.name, desired.attrs["columns"] if desired else {})
            elif change.kind == "iam":
                self._set_binding(change.name, present=change.action != "delete")
        except exceptions.GoogleAPIError as exc:
            raise ServiceError(
                f"BigQuery {change.kind} {change.name}: {change.action} failed: {_problem(exc)}"
            ) from None

    def _create_dataset(self, domain: str) -> None:
        from google.cloud import bigquery

        dataset = bigquery.Dataset(f"{self.project}.{self.dataset_id(domain)}")
        dataset.labels = dict(MARKER)
        if self.location:
            dataset.location = self.location
        self.client.create_dataset(dataset, exists_ok=True, **self._retry)

    def _schema(self, contract: Contract) -> list[Any]:
        """The writers' schema: the exporter's fields (no policy tags: those are their own
        resource) and ``_meshkit_pos``."""
        from google.cloud import bigquery

        schema = [
            bigquery.SchemaField.from_api_repr(f) for f in bigquery_schema(contract, taxonomy=None)
        ]
        schema.append(bigquery.SchemaField(POSITION_COLUMN, "INT64", mode="REQUIRED"))
        return schema

    def _create_table(self, name: str, contract: Contract) -> None:
        from google.cloud import bigquery

        table = bigquery.Table(self._table_id(name), schema=self._schema(contract))
        options = bigquery_table_options(contract)
        if "timePartitioning" in options:
            tp = options["timePartitioning"]
            table.time_partitioning = bigquery.TimePartitioning(type_=tp["type"], field=tp["field"])
        if "clustering" in options:
            table.clustering_fields = options["clustering"]["fields"]
        table.description = contract.description or None
        table.labels = dict(MARKER)
        self.client.create_table(table, **self._retry)

    def _repair_table(self, name: str, desired: Resource, contract: Contract) -> None:
        """Drop columns added out of band, add missing optional ones, relax required ones,
        set clustering, description and labels; partitioning and types stay as they are."""
        table_id = self._table_id(name)
        table = self.client.get_table(table_id, **self._retry)
        want = desired.attrs["columns"]
        extra = [f.name for f in table.schema if f.name not in want]
        for column in extra:
            ref = bigquery_ref(*table_id.rsplit(".", 2))
            job = self.client.query(
                f"ALTER TABLE {ref} DROP COLUMN IF EXISTS {quote_bigquery(column)}",
                **self._retry, **self._job_retry,
            )  # fmt: skip
            job.result(**self._retry)
        table = self.client.get_table(table_id, **self._retry)
        if any(f.name in extra for f in table.schema):
            # an endpoint whose DDL does not reach the table's metadata (the emulator);
            # on BigQuery the statement above has already dropped them
            table.schema = [f for f in table.schema if f.name not in extra]
            table = self.client.update_table(table, ["schema"], **self._retry)
        wanted = {f.name: f for f in self._schema(contract)}
        schema, changed = [], False
        for f in table.schema:
            target = wanted.get(f.name)
            if target is not None and f.mode == "REQUIRED" and target.mode != "REQUIRED":
                schema.append(target)
                changed = True
            else:
                schema.append(f)
        have = {f.name for f in table.schema}
        for column, signature in want.items():
            if column not in have and not signature.endswith(" NOT NULL"):
                schema.append(wanted[column])
                changed = True
        fields = []
        if changed:
            table.schema = schema
            fields.append("schema")
        clustering = desired.attrs["clustering"] or None
        if list(table.clustering_fields or []) != desired.attrs["clustering"]:
            table.clustering_fields = clustering
            fields.append("clustering_fields")
        if (table.description or "") != desired.attrs["description"]:
            table.description = desired.attrs["description"] or None
            fields.append("description")
        if not (table.labels or {}).items() >= MARKER.items():
            table.labels = {**(table.labels or {}), **MARKER}
            fields.append("labels")
        if fields:
            self.client.update_table(table, fields, **self._retry)

    def _set_policy_tags(self, name: str, categories: Mapping[str, str]) -> None:
        """Tag the personal columns (``path -> category``) under the taxonomy; meshkit's tags
        on other columns are removed."""
        from google.cloud import bigquery

        taxonomy = self.taxonomy or ""
        mine = f"{taxonomy}/policyTags/"

        def retag(fields: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
            out = []
            for field in fields:
                f, path = dict(field), prefix + field["name"]
                names = (f.get("policyTags") or {}).get("names") or []
                if path in categories:
                    f["policyTags"] = {"names": [policy_tag(categories[path], taxonomy)]}
                elif names and names[0].startswith(mine):
                    f["policyTags"] = {"names": []}
                if f.get("fields"):
                    f["fields"] = retag(f["fields"], path + ".")
                out.append(f)
            return out

        table = self.client.get_table(self._table_id(name), **self._retry)
        fields = retag([f.to_api_repr() for f in table.schema], "")
        table.schema = [bigquery.SchemaField.from_api_repr(f) for f in fields]
        self.client.update_table(table, ["schema"], **self._retry)

    def _set_binding(self, name: str, *, present: bool) -> None:
        """Add (or remove) the reader group's dataViewer binding on the table."""
        table_name, _, role = name.partition(" ")
        member = f"group:{role}{self._at}"
        table_id = self._table_id(table_name)
        policy = self.client.get_iam_policy(table_id, **self._retry)
        bindings = [dict(b) for b in policy.bindings]
        for binding in bindings:
            if binding["role"] == READER_ROLE:
                binding["members"] = set(binding["members"]) - {member}
        bindings = [b for b in bindings if b["members"]]
        if present:
            bindings.append({"role": READER_ROLE, "members": {member}})
        policy.bindings = bindings
        self.client.set_iam_policy(table_id, policy, **self._retry)

    def close(self) -> None:
        """Close the client."""
        self.client.close()
