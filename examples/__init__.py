"""Runnable meshkit examples; ``python -m examples.demo`` is the end-to-end demo."""
