"""The Encoder interface and the batched, overlapped image path every family shares."""

from __future__ import annotations

import contextlib
import os
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np
import torch

from embeddings.encoders import options
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


def l2_normalise(vectors: torch.Tensor) -> np.ndarray:
    vectors = vectors.float()
    vectors = vectors / vectors.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    return vectors.cpu().numpy().astype(np.float32, copy=False)


class TorchImageEncoder(Encoder):
    """Decode and resize on a thread pool while the model runs the previous batch.

    Pillow releases the GIL while decoding and resizing, so on a GPU box the workers keep
    the card fed; on a small CPU box the overlap still hides most of the decode time.
    """

    def __init__(
        self,
        *,
        spec: EncoderSpec,
        identity: str,
        runtime: Runtime,
        preprocess: Preprocess,
        batch_size: int | None = None,
    ) -> None:
        super().__init__(spec=spec, identity=identity)
        self.runtime = runtime
        self.preprocess = preprocess
        chosen = options.current()
        # Measured on a 2-core CPU: gains flatten past 16; GPUs want hundreds in flight.
        self.batch_size = batch_size or chosen.forward_batch_size or (256 if runtime.device.type == "cuda" else 16)
        self.max_pixels = DEFAULT_MAX_PIXELS
        workers = chosen.decode_workers or min(8, os.cpu_count() or 1)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"decode-{self.name}")
        device = runtime.device
        self._mean = torch.tensor(preprocess.mean, device=device).view(1, 3, 1, 1) * 255.0
        self._std = torch.tensor(preprocess.std, device=device).view(1, 3, 1, 1) * 255.0

    @abstractmethod
    def _forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """Normalised (n, 3, H, W) float pixels -> (n, dim) embeddings, not yet L2-normalised."""

    def _autocast(self) -> contextlib.AbstractContextManager[object]:
        dtype = self.runtime.autocast_dtype
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.runtime.device.type, dtype=dtype)

    def _to_tensor(self, batch: list[np.ndarray]) -> torch.Tensor:
        pixels = torch.from_numpy(np.stack(batch)).permute(0, 3, 1, 2)
        if self.runtime.device.type == "cuda":
            # uint8 crosses PCIe (4x less than float32); pinned memory lets the copy overlap compute.
            pixels = pixels.pin_memory().to(self.runtime.device, non_blocking=True)
        return ((pixels.float() - self._mean) / self._std).contiguous()

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

    def encode_images(self, images: Sequence[ImageInput], *, batch_size: int | None = None) -> np.ndarray:
        """Raises ImageDecodeError for the first undecodable item: validate uploads with
        decode_image first when one bad file must not fail its neighbours."""
        size = batch_size or self.batch_size
        if len(images) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        outputs: list[np.ndarray] = []
        with torch.inference_mode():
            for batch in self._prefetched(images, size):
                pixels = self._to_tensor(batch)
                with self._autocast():
                    embedded = self._forward(pixels)
                outputs.append(l2_normalise(embedded))
        return np.concatenate(outputs)
