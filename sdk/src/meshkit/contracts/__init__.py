"""Data-product contracts: the model, the type grammar and the semantic checks.

The contract is the single source of truth of a data product; see ``docs/contracts.md``
for every key. Implementation lives in private-by-topic modules; this is the public face.
"""

from meshkit.contracts.filter import Filter, FilterSyntaxError, parse_filter
from meshkit.contracts.lint import LintResult, lint_paths
from meshkit.contracts.loader import load_contract, parse_contract, parse_model, read_contract
from meshkit.contracts.mapping import FieldMapping, Mapping
from meshkit.contracts.model import Access, Contract, FieldSpec, Owner, Status
from meshkit.contracts.ports import (
    CdcInput,
    InputPort,
    KafkaTopic,
    OutputPort,
    Partitioning,
    Ports,
    ProductInput,
    SearchIndex,
    ServingView,
    WarehouseTable,
)
from meshkit.contracts.problem import Problem
from meshkit.contracts.quality import (
    AcceptedValues,
    CustomSql,
    Freshness,
    NotNull,
    QualityRule,
    Range,
    Regex,
    RowCount,
    Slo,
    Unique,
)
from meshkit.contracts.semantics import Issue, problems, transform_fits
from meshkit.contracts.transforms import (
    Classification,
    Drop,
    Encrypt,
    Generalize,
    Mask,
    PiiCategory,
    Redact,
    Tokenize,
    Transform,
)
from meshkit.contracts.types import (
    DataType,
    Duration,
    FieldType,
    TypeSyntaxError,
    format_duration,
    parse_duration,
)
from meshkit.contracts.validator import BatchResult, ContractValidator, Failure, RecordResult

__all__ = [
    "AcceptedValues",
    "Access",
    "BatchResult",
    "CdcInput",
    "Classification",
    "Contract",
    "ContractValidator",
    "CustomSql",
    "DataType",
    "Drop",
    "Duration",
    "Encrypt",
    "Failure",
    "FieldMapping",
    "FieldSpec",
    "FieldType",
    "Filter",
    "FilterSyntaxError",
    "Freshness",
    "Generalize",
    "InputPort",
    "Issue",
    "KafkaTopic",
    "LintResult",
    "Mapping",
    "Mask",
    "NotNull",
    "OutputPort",
    "Owner",
    "Partitioning",
    "PiiCategory",
    "Ports",
    "Problem",
    "ProductInput",
    "QualityRule",
    "Range",
    "RecordResult",
    "Redact",
    "Regex",
    "RowCount",
    "SearchIndex",
    "ServingView",
    "Slo",
    "Status",
    "Tokenize",
    "Transform",
    "TypeSyntaxError",
    "Unique",
    "WarehouseTable",
    "format_duration",
    "lint_paths",
    "load_contract",
    "parse_contract",
    "parse_duration",
    "parse_filter",
    "parse_model",
    "problems",
    "read_contract",
    "transform_fits",
]
