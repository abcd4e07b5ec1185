"""`python -m client`: the `diabetes-client` command line."""

import sys

from client.cli import main

if __name__ == "__main__":
    sys.exit(main())
