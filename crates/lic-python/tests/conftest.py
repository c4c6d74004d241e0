import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def golden() -> Path:
    return ROOT / "tests" / "golden"
