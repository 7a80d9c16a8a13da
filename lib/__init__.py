"""Shared logic for the notebooks, the service and the tests of random-practise."""

__version__ = "0.1.0"
