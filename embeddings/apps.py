from __future__ import annotations

from pathlib import Path
from typing import cast

from django.apps import AppConfig


class EmbeddingsConfig(AppConfig):
    name = "embeddings"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Hand the encoder knobs, read and validated by config/settings.py, to the
        # Django-free encoders. Cheap: nothing loads until a model is asked for.
        from django.conf import settings

        from embeddings.encoders import EncoderOptions, configure
        from embeddings.encoders.options import BackendChoice, DeviceChoice, DtypeChoice

        configure(
            EncoderOptions(
                # Checked against the same choices by env_choice in settings.
                device=cast(DeviceChoice, settings.EMBEDDINGS_DEVICE),
                cpu_dtype=cast(DtypeChoice, settings.EMBEDDINGS_CPU_DTYPE),
                forward_batch_size=settings.EMBEDDINGS_FORWARD_BATCH_SIZE or None,
                decode_workers=settings.EMBEDDINGS_DECODE_WORKERS or None,
                model_dir=Path(settings.EMBEDDINGS_MODEL_DIR).expanduser() if settings.EMBEDDINGS_MODEL_DIR else None,
                hub_offline=settings.HF_HUB_OFFLINE,
                backend=cast(BackendChoice, settings.EMBEDDINGS_BACKEND),
                onnx_cache_dir=settings.EMBEDDINGS_ONNX_CACHE_DIR,
                compute_threads=settings.EMBEDDINGS_COMPUTE_THREADS or None,
            )
        )
