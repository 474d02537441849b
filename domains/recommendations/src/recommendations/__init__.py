"""Recommendations: What to show each customer next, from what they and others bought."""
