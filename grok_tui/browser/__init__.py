"""The browser link: CDP to the user's Chrome tab, turned into typed signals (no Textual here).

`BrowserLink` (link) is the one class the app uses, a façade over the concern
modules, lowest first: cdp (connection, errors), attempts (the way out, attempt
tagging), page (identity, evaluate, routes), dom and network (the observer's
signals, the generation stream), actions (prompt and click). Link events are
in signals; no module imports one above it (tests/test_layers.py).
"""
