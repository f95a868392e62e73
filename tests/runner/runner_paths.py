"""Paths the runner tests share (a uniquely named module: every test folder
has a conftest.py, so `from conftest import ...` would be ambiguous)."""
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
