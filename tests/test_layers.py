"""The direction of imports: import-linter's contracts in pyproject.toml hold for this tree."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The console script installed beside this interpreter (the test extra brings it).
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def test_every_import_contract_is_kept():
    """Layers, no cycles, a store that imports nothing above it, api and web apart, no cli."""
    assert LINT_IMPORTS.exists(), f"{LINT_IMPORTS} is missing: pip install -e '.[test]'"
    # This tree's package, not whichever copy the virtualenv has installed.
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [str(LINT_IMPORTS), str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "0 broken" in output, output
