"""meshkit platform: provisioning (plan/apply over backends), access model and registry.

The platform reads every domain's declarations through the SDK (``meshkit``); the
dependency never goes the other way.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
