"""``python -m ku7s`` is the ku7s command."""

import sys

from ku7s.cli.main import main

sys.exit(main())
