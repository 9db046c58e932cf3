"""The browser link: CDP to the user's Chrome tab (no Textual here).

`BrowserLink` (grok_tui.browser.link) is the one class the app uses; its link
events are in grok_tui.browser.signals, its errors in grok_tui.browser.cdp.
"""
