"""Interop with the Open Data Contract Standard (ODCS) v3.0 and v3.1.

``to_odcs(contract)`` writes an ODCS v3.1.0 document; ``from_odcs(text, file)`` reads a
v3.0.x or v3.1.0 document into a contract, with a warning (file:line:column) for every
part it could not carry over. ``to_odcs`` then ``from_odcs`` gives back the same
contract (quality rules may come back in another order).
"""

from meshkit.contracts.odcs.export import to_odcs
from meshkit.contracts.odcs.importer import OdcsImport, from_odcs

__all__ = ["OdcsImport", "from_odcs", "to_odcs"]
