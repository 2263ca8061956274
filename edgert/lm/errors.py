"""Errors of the language-model subsystem (all EdgeRTError subclasses via ModelLoadError)."""

from __future__ import annotations

from ..errors import EdgeRTError, ModelLoadError


class CheckpointError(ModelLoadError):
    """A checkpoint's safetensors files lack keys the config needs, or hold them with the wrong shape.

    ``missing`` lists absent key names, ``mis_shaped`` maps key name -> (expected shape, found shape),
    ``files`` names the safetensors files that were read.
    """

    def __init__(self, path, files, missing=(), mis_shaped=None, unexpected=(), reason=""):
        self.path = str(path)
        self.files = [str(f) for f in files]
        self.missing = list(missing)
        self.mis_shaped = dict(mis_shaped or {})
        self.unexpected = list(unexpected)
        parts = []
        if reason:
            parts.append(reason)
        if self.missing:
            parts.append(f"{len(self.missing)} missing key(s): " + ", ".join(self.missing[:20])
                         + (" ..." if len(self.missing) > 20 else ""))
        if self.mis_shaped:
            parts.append(f"{len(self.mis_shaped)} mis-shaped key(s): " + ", ".join(
                f"{k} (expected {tuple(e)}, found {tuple(f)})" for k, (e, f) in list(self.mis_shaped.items())[:20]))
        if self.unexpected:
            parts.append(f"{len(self.unexpected)} unexpected key(s): " + ", ".join(self.unexpected[:20])
                         + (" ..." if len(self.unexpected) > 20 else ""))
        where = ", ".join(self.files) if self.files else self.path
        super().__init__(f"checkpoint {where}: " + "; ".join(parts))


class UnsupportedConfigError(ModelLoadError):
    """config.json asks for something the edgert LFM2 decoder does not implement; ``fields`` names them."""

    def __init__(self, path, fields: dict):
        self.path = str(path)
        self.fields = dict(fields)
        detail = "; ".join(f"{k}: {v}" for k, v in self.fields.items())
        super().__init__(f"{self.path}: unsupported config field(s): {detail}")


class GenerationError(EdgeRTError, ValueError):
    """Bad arguments to generate() (prompt, sampling parameters, stop conditions)."""


__all__ = ["CheckpointError", "UnsupportedConfigError", "GenerationError"]
