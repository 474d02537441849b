"""Catalog: The shop's product catalogue: what is for sale, searchable."""
