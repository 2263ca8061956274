"""Every error edgert raises on purpose is an EdgeRTError subclass, so callers can catch one type."""


class EdgeRTError(Exception):
    """Base class of edgert's errors."""


class ModelLoadError(EdgeRTError):
    """The model file is missing, unreadable, malformed or inconsistent."""


class UnsupportedOperatorError(ModelLoadError):
    """A node uses an operator (or an attribute combination) edgert cannot run natively."""

    def __init__(self, op_type: str, node: str, reason: str = ""):
        self.op_type, self.node = op_type, node
        detail = f": {reason}" if reason else ""
        super().__init__(f"unsupported operator {op_type} in node '{node}'{detail}")


class InputError(EdgeRTError, ValueError):
    """Feeds given to Session.run do not match the model's inputs (name, dtype or shape)."""


class BackendUnavailableError(EdgeRTError):
    """The requested backend (onnxruntime, litert) is not installed or cannot load this model."""


class OperatorArgumentError(ModelLoadError, ValueError):
    """A node's inputs or attributes have shapes or values its operator does not accept."""

    def __init__(self, op_type: str, node: str, reason: str):
        self.op_type, self.node = op_type, node
        super().__init__(f"{op_type} node '{node}': {reason}")
