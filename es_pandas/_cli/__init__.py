"""The subcommands of ``es-pandas``, one module each. The command group is
``_es_pandas_cli``, outside this package so that ``es-pandas --help`` imports no pandas."""
