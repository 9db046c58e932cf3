"""`python -m grok_tui`: the same as the `grok-tui` command."""

import sys

from .cli import main

sys.exit(main())
