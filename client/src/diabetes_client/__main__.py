"""`python -m diabetes_client`: the `diabetes-client` command line."""

import sys

from diabetes_client.cli import main

if __name__ == "__main__":
    sys.exit(main())
