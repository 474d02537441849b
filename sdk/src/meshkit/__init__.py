"""meshkit: the SDK a domain team imports to build governed data products.

The public face is re-exported here; implementation lives in one module per topic
(``meshkit.contracts``, ``meshkit.privacy``, ``meshkit.local``, ...). The SDK never
imports ``meshkit_platform``.
"""

from meshkit.errors import MeshkitError

__version__ = "0.1.0"

__all__ = ["MeshkitError", "__version__"]
