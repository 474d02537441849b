"""meshkit.erasure: a domain's side of erasure across the mesh.

The registry files one erasure request per data subject and lists, for each domain, the
products that hold data of that subject. The domain's worker (``ErasureWorker``; the
``meshkit erasure work`` command; the Dagster sensor of ``meshkit.erasure.sensor``)
crypto-shreds the subject in the domain's key store, deletes by key where the ports
hold the subject id, verifies that the subject's encrypted values no longer decrypt
while another subject's still do, and reports the evidence. See docs/privacy.md.
"""

from meshkit.erasure.ports import MissingTargetError, PortTargets
from meshkit.erasure.registry import RegistryClient, WorkItem, WorkProduct
from meshkit.erasure.settings import ErasureSettings
from meshkit.erasure.worker import ErasureWorker, Outcome, encrypted_fields, load_contracts

__all__ = [
    "ErasureSettings",
    "ErasureWorker",
    "MissingTargetError",
    "Outcome",
    "PortTargets",
    "RegistryClient",
    "WorkItem",
    "WorkProduct",
    "encrypted_fields",
    "load_contracts",
]
