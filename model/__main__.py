"""`python -m model`: the training command (same as `diabetes-train`)."""

from model.train import main

raise SystemExit(main())
