"""`diabetes-train` without the [train] extra names the extra to install."""

from __future__ import annotations

import subprocess
import sys

# Runs the entry point with scikit-learn made unimportable, as in a wheel without [train].
WITHOUT_SKLEARN = (
    "import sys; sys.modules['sklearn'] = None; "
    "from model.train_command import main; sys.exit(main(['--help']))"
)


def test_a_missing_training_package_names_the_extra() -> None:
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_SKLEARN], capture_output=True, text=True, check=False
    )
    assert done.returncode == 2
    assert "pip install 'diabetes-serving[train]'" in done.stderr
    assert "sklearn is not installed" in done.stderr
    assert "Traceback" not in done.stderr
