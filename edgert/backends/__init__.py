"""Session implementations sharing one API: edgert's own runtime and the reference peers."""
