"""`python -m tools.docs [--check]`: see tools/docs/command.py."""

import sys

from tools.docs.command import main

sys.exit(main())
