"""meshkit.privacy: transforms, key store, crypto-shredding erasure, and the PII scanner.

One module per topic: ``keys`` (key store), ``tokenize``, ``encrypt`` (per data subject),
``mask`` and ``generalize`` (value transforms), ``masker`` (a product's transforms on a
record or a table), ``erasure``, ``detectors`` and ``scanner``. See docs/privacy.md.
"""

from meshkit.privacy.encrypt import Decrypted, SubjectCipher
from meshkit.privacy.erasure import ErasureReport, ProductHoldings, erase
from meshkit.privacy.errors import (
    DecryptionError,
    KeyNotFoundError,
    PrivacyError,
    SubjectErasedError,
    TransformError,
)
from meshkit.privacy.generalize import Bucket, IpPrefix, PostalPrefix, TruncateTime
from meshkit.privacy.keys import KeyStore, LocalKeyStore, TokenKey, new_master_key
from meshkit.privacy.mask import EmailDomain, KeepLast, Redact
from meshkit.privacy.masker import FieldPlan, Masker
from meshkit.privacy.scanner import FieldFinding, GuardResult, PiiGuard, guard_for, scan_table
from meshkit.privacy.tokenize import Tokenizer, verify_token

__all__ = [
    "Bucket",
    "Decrypted",
    "DecryptionError",
    "EmailDomain",
    "ErasureReport",
    "FieldFinding",
    "FieldPlan",
    "GuardResult",
    "IpPrefix",
    "KeepLast",
    "KeyNotFoundError",
    "KeyStore",
    "LocalKeyStore",
    "Masker",
    "PiiGuard",
    "PostalPrefix",
    "PrivacyError",
    "ProductHoldings",
    "Redact",
    "SubjectCipher",
    "SubjectErasedError",
    "TokenKey",
    "Tokenizer",
    "TransformError",
    "TruncateTime",
    "erase",
    "guard_for",
    "new_master_key",
    "scan_table",
    "verify_token",
]
