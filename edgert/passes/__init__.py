"""Graph rewrites that do not depend on input shapes, run once at load."""
from edgert.passes.fuse import optimize

__all__ = ["optimize"]
