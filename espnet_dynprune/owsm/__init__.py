"""The OWSM formats, in one place and without torch: every other module imports them from here.

Modules: symbols (the special symbols and the ``<lang><task><notimestamps> text`` target
grammar), token_layout (where those symbols sit in an OWSM token list, and reading a list's
language and task symbols back from it), datadir (OWSM Kaldi data directories).
"""
