"""The tests, laid out like src/win4658/ (see tests/README.md)."""
