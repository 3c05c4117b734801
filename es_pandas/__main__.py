from _es_pandas_cli import main

main()
