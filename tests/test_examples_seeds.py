"""The example scripts run as scripts, exit 0 and print their closing claim."""

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

SCRIPTS = {
    "seed000_softmax_cross_entropy.py": "softmax Jacobian is dense, yet dC/dz = p - y",
    "seed001_batch.py": "batch loss and gradient are means over samples",
    "seed002_per_weight.py": "per-weight loops match the typed chain rule",
    "seed003_typed_objects.py": "every typed derivative and every chain agrees",
    "batchnorm_closed_form.py": "the batch-norm closed form is the full chain rule, term by term",
    "seed000_cnn.py": "the CNN's shortcuts are the full chain rule",
    "second_order.py": "the Hessian is its Gauss-Newton part plus the layers' curvature",
}


@pytest.mark.parametrize("script, phrase", sorted(SCRIPTS.items()))
def test_seed_example_runs(script: str, phrase: str) -> None:
    path = EXAMPLES / script
    result = subprocess.run([sys.executable, str(path)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, f"{script} failed:\n{result.stdout}\n{result.stderr}"
    assert phrase in result.stdout
    assert "all checks passed" in result.stdout
    assert "MISMATCH" not in result.stdout
