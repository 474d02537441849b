"""Change data capture: PostgreSQL changes into Kafka in the Debezium event format.

:class:`Capture` reads a logical replication slot (``pgoutput``) and produces
Debezium-envelope JSON to ``<topic_prefix>.<schema>.<table>``; :mod:`meshkit.cdc.connector`
generates the equivalent real Debezium configuration for production. See ``docs/cdc.md``.
"""

from meshkit.cdc.capture import Capture, Progress
from meshkit.cdc.config import CaptureConfig, build_config
from meshkit.cdc.state import SchemaChange

__all__ = ["Capture", "CaptureConfig", "Progress", "SchemaChange", "build_config"]
