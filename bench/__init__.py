"""meshkit benchmarks: one module per benchmark, each runnable alone."""
