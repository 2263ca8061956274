"""Private: the compiled kernels (edgert._ops._kernels). Use edgert.load() instead."""
