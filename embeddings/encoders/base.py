"""The Encoder interface and the batched, overlapped image path every family shares.

A family provides a tower (backends.py: its forward pass as one module, on torch
or ONNX Runtime) and, where the tower's output is not the vector itself, a
`head` turning raw outputs into vectors. Decoding and resizing run on a thread
pool while the tower runs the previous batch.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import torch

from embeddings.encoders import options
from embeddings.encoders.backends import Tower
from embeddings.encoders.cores import thread_budget
from embeddings.encoders.images import DEFAULT_MAX_PIXELS
from embeddings.encoders.preprocess import ImageInput, Preprocess
from embeddings.encoders.registry import EncoderSpec
from embeddings.encoders.runtime import Runtime


class Encoder(ABC):
    """Maps images (and, for image+text encoders, texts) into one L2-normalised space."""

    def __init__(self, *, spec: EncoderSpec, identity: str) -> None:
        self.spec = spec
        self.name = spec.name
        # Stored beside every vector: two vectors are comparable only if their identities match.
        self.identity = identity
        self.dim = spec.dim
        self.modality = spec.modality
        self.supports_text = spec.supports_text

    @abstractmethod
    def encode_images(self, images: Sequence[ImageInput], *, batch_size: int | None = None) -> np.ndarray:
        """float32 (n, dim), rows of unit length; bytes are decoded with decode_image."""

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        raise TypeError(f"encoder {self.name} is image-only ({self.modality}); it cannot embed text")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.identity} dim={self.dim}>"


def l2_rows(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)


class PixelNormalise(torch.nn.Module):
    """uint8 (n, H, W, 3) -> float (n, 3, H, W), (x / 255 - mean) / std: the first layer of every image tower.

    Inside the tower, so that uint8 crosses to the GPU (4x less than float32) and
    ONNX Runtime fuses it with the first convolution.
    """

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, preprocess: Preprocess) -> None:
        super().__init__()
        # Buffers: they follow the module to its device and into the exported graph.
        self.register_buffer("mean", torch.tensor(preprocess.mean).view(1, 3, 1, 1) * 255.0)
        self.register_buffer("std", torch.tensor(preprocess.std).view(1, 3, 1, 1) * 255.0)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return (pixels.permute(0, 3, 1, 2).float() - self.mean) / self.std


def example_pixels(preprocess: Preprocess, count: int = 2) -> torch.Tensor:
    """A batch shaped like the tower's input, for tracing an export."""
    height, width = preprocess.output_size
    return torch.zeros((count, height, width, 3), dtype=torch.uint8)


class ImageEncoder(Encoder):
    """An image tower fed with batches prepared on a thread pool, one batch ahead."""

    def __init__(
        self,
        *,
        spec: EncoderSpec,
        identity: str,
        runtime: Runtime,
        preprocess: Preprocess,
        tower: Tower,
        backbone: str | None = None,
        batch_size: int | None = None,
    ) -> None:
        super().__init__(spec=spec, identity=identity)
        self.runtime = runtime
        self.preprocess = preprocess
        self.tower = tower
        # Encoders naming the same backbone (and preprocessing) compute the same raw outputs and
        # differ only in their head: joint.py runs the tower once for all of them.
        self.backbone = backbone
        # Measured on a 2-core CPU: gains flatten past 16; GPUs want hundreds in flight.
        chosen = options.current().forward_batch_size
        self.batch_size = batch_size or chosen or (256 if runtime.device.type == "cuda" else 16)
        self.max_pixels = DEFAULT_MAX_PIXELS
        self._pool = ThreadPoolExecutor(max_workers=thread_budget().decode, thread_name_prefix=f"decode-{self.name}")

    @property
    def backend(self) -> str:
        return self.tower.backend

    def head(self, raw: np.ndarray) -> np.ndarray:
        """The tower's first output -> vectors (not yet normalised). The identity, unless the family adds a head."""
        return raw

    def _prepare(self, image: ImageInput) -> np.ndarray:
        return self.preprocess.pixels(image, max_pixels=self.max_pixels)

    def _prefetched(self, images: Sequence[ImageInput], batch_size: int) -> Iterator[list[np.ndarray]]:
        """Yield batches of prepared pixels, keeping about two batches of decoding in flight."""
        window = 2 * batch_size
        pending: deque[Future[np.ndarray]] = deque()

        def submit(item: ImageInput) -> Future[np.ndarray]:
            return self._pool.submit(self._prepare, item)

        upcoming = iter(images)
        for item in upcoming:
            pending.append(submit(item))
            if len(pending) >= window:
                break
        batch: list[np.ndarray] = []
        try:
            while pending:
                batch.append(pending.popleft().result())
                next_item = next(upcoming, None)
                if next_item is not None:
                    pending.append(submit(next_item))
                if len(batch) == batch_size:
                    yield batch
                    batch = []
            if batch:
                yield batch
        finally:
            for future in pending:
                future.cancel()

    def raw_outputs(self, images: Sequence[ImageInput], *, batch_size: int | None = None) -> np.ndarray:
        """The tower's first output for every image, float32, before any head: shared-backbone encoders reuse it."""
        outputs = [self.tower(np.stack(batch))[0] for batch in self._prefetched(images, batch_size or self.batch_size)]
        return np.concatenate(outputs) if outputs else np.zeros((0, 0), dtype=np.float32)

    def encode_images(self, images: Sequence[ImageInput], *, batch_size: int | None = None) -> np.ndarray:
        """Raises ImageDecodeError for the first undecodable item: validate uploads with
        decode_image first when one bad file must not fail its neighbours."""
        if len(images) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return l2_rows(self.head(self.raw_outputs(images, batch_size=batch_size)))
