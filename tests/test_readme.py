"""The README's "Using the package" example runs as written."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def section_code(markdown: str, heading: str) -> list[str]:
    """The ```python blocks of the ``## heading`` section of ``markdown``."""
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", markdown, flags=re.M | re.S)
    if match is None:
        raise AssertionError(f"{README.name} has no '## {heading}' section")
    return re.findall(r"^```python\n(.*?)^```", match.group(1), flags=re.M | re.S)


def test_using_the_package_example_runs(tmp_path, monkeypatch):
    blocks = section_code(README.read_text(), "Using the package")
    assert blocks, "the 'Using the package' section has no python block"
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, f"{README.name}:Using the package", "exec"), namespace)
    assert set(namespace["terms"]) == {"total", "l1", "heg_2", "heg_4"}
    assert namespace["out"]["depth"].shape == namespace["batch"]["depth"].shape
    assert 0.0 <= namespace["scores"]["delta1"] <= 1.0
