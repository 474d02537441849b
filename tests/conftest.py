pytest_plugins = ["meshkit.testing"]
