"""Ownwell: customer care where every problem has one named owner."""

__version__ = "0.1.0"
