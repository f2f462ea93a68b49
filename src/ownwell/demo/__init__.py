"""A realistic demo organisation, loaded through the same service calls as real work."""

from ownwell.demo.load import load_demo

__all__ = ["load_demo"]
