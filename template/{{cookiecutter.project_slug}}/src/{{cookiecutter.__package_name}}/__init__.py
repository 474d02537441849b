"""{{ cookiecutter.domain_name }}: {{ cookiecutter.description }}"""
