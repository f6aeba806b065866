"""The outer shell: the HTTP apps (FastAPI) and the ``wangqian`` command line."""
