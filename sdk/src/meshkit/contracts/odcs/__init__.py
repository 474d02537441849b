"""Interop with the Open Data Contract Standard (ODCS) v3.0 and v3.1.

``to_odcs(contract)`` writes an ODCS v3.1.0 document; ``from_odcs(text, file, options)``
reads one schema object of a v3.0.x or v3.1.0 document into a contract, and
``from_odcs_each`` every schema object into a contract of its own, with a warning
(file:line:column) for every part not carried over. ``ImportOptions`` supplies what
meshkit needs and ODCS leaves optional (domain, product, owner). ``to_odcs`` then
``from_odcs`` gives back the same contract (quality rules may come back in another order).
"""

from meshkit.contracts.odcs.export import to_odcs
from meshkit.contracts.odcs.importer import ImportOptions, OdcsImport, from_odcs, from_odcs_each

__all__ = ["ImportOptions", "OdcsImport", "from_odcs", "from_odcs_each", "to_odcs"]
