"""Customers: Customers of the shop: who they are, with personal data protected."""
