"""Every example in a docstring of the package and in docs/*.md runs (``>>>`` lines, doctest rules)."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

from tests.test_architecture import _modules

REPO = Path(__file__).resolve().parents[1]
MODULES = sorted(name for name, path in _modules().items() if ">>> " in path.read_text(encoding="utf-8"))
DOCS = sorted(p for p in [REPO / "README.md", *(REPO / "docs").glob("*.md")] if ">>> " in p.read_text(encoding="utf-8"))
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def test_there_are_examples_to_run():
    assert len(MODULES) >= 5


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=FLAGS, report=True)
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} examples failed (see the output above)"


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_markdown_examples(path):
    result = doctest.testfile(str(path), module_relative=False, optionflags=FLAGS, report=True)
    assert result.failed == 0, f"{path.name}: {result.failed} of {result.attempted} examples failed"
