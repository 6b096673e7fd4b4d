"""The CLI shows its own INFO lines, not other libraries' (those reach the terminal only with -vv)."""

from __future__ import annotations

import subprocess
import sys

import pytest

SCRIPT = """
import logging, sys
from wholebody.cli.main import main
main(sys.argv[1:] + ["models", "list"])
logging.getLogger("matplotlib.font_manager").info("generated new fontManager")
logging.getLogger("wholebody.anything").info("our progress line")
"""


@pytest.mark.parametrize("verbose, third_party_shown", [([], False), (["-vv"], True)])
def test_third_party_info_needs_vv(verbose, third_party_shown):
    done = subprocess.run([sys.executable, "-c", SCRIPT, *verbose], capture_output=True, text=True, timeout=120)
    assert "our progress line" in done.stderr, done.stderr
    assert ("fontManager" in done.stderr) == third_party_shown, done.stderr
