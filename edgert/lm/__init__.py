"""edgert.lm: LFM2-compatible language models (decoder, constant-memory variant, generation).

    from edgert.lm import TextGenerator
    gen = TextGenerator.load("path/to/checkpoint", quantize="int8")
    for tok in gen.generate("a red 3", max_new_tokens=16, stream=True):
        print(tok.text, end="", flush=True)

Needs ``safetensors`` (checkpoint reading) and ``tokenizers`` (text prompts): ``pip install 'edgert[lm]'``.
"""

from .config import Lfm2Config
from .errors import CheckpointError, GenerationError, UnsupportedConfigError
from .generate import GenerationResult, GenerationStats, TextGenerator, Token, TokenStream, sample_token
from .model import DecodeState, Lfm2Model, expected_shapes, read_checkpoint

__all__ = ["TextGenerator", "GenerationResult", "GenerationStats", "Token", "TokenStream", "sample_token",
           "Lfm2Config", "Lfm2Model", "DecodeState", "expected_shapes", "read_checkpoint",
           "CheckpointError", "UnsupportedConfigError", "GenerationError"]
