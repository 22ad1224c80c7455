"""Tiny, random-initialised DINOv2, SigLIP and CLIP checkpoints for tests that need no downloads.

The checkpoints are saved the way the hub stores the real ones (config, safetensors,
preprocessor config, SentencePiece or byte-level BPE tokenizer), and the specs registered
for them go through exactly the production loader, so only the sizes differ from production.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from embeddings.encoders.registry import EncoderSpec, register

TINY_DINOV2 = "tiny-dinov2"
TINY_SIGLIP = "tiny-siglip"
TINY_CLIP = "tiny-clip"

# A little product-catalogue English so the tokenizer has real pieces to split on.
_CORPUS = [
    "a photo of a red running shoe",
    "a blue cotton shirt with long sleeves",
    "black leather handbag with a gold buckle",
    "wooden dining chair, oak finish",
    "a photo of a cat sitting on a sofa",
    "stainless steel kitchen knife set",
    "green ceramic coffee mug",
    "white sneakers for women",
    "denim jacket for men, size large",
    "a photo of a dog",
    "a photo of a car",
] * 8


def _sentencepiece_model() -> bytes:
    import sentencepiece as spm

    model = io.BytesIO()
    # Same special ids as SigLIP's real spiece.model: <pad>=0, </s>=1 (also its pad token), <unk>=2.
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(_CORPUS),
        model_writer=model,
        vocab_size=96,
        model_type="unigram",
        pad_id=0,
        eos_id=1,
        unk_id=2,
        bos_id=-1,
        hard_vocab_limit=False,
        minloglevel=2,
    )
    return model.getvalue()


def save_dinov2(directory: Path, config: dict[str, Any], *, resize: int, crop: int) -> None:
    """A random-weight Dinov2Model checkpoint with DINOv2's own preprocessing (ImageNet mean/std)."""
    from transformers import Dinov2Config, Dinov2Model
    from transformers.models.bit.image_processing_pil_bit import BitImageProcessorPil

    Dinov2Model(Dinov2Config(**config)).eval().save_pretrained(directory)
    BitImageProcessorPil(
        size={"shortest_edge": resize},
        crop_size={"height": crop, "width": crop},
        image_mean=[0.485, 0.456, 0.406],
        image_std=[0.229, 0.224, 0.225],
    ).save_pretrained(directory)


def save_siglip(
    directory: Path, *, text_config: dict[str, Any], vision_config: dict[str, Any], image_size: int
) -> None:
    """A random-weight SiglipModel checkpoint with a locally trained SentencePiece tokenizer."""
    from transformers import SiglipConfig, SiglipModel, SiglipTokenizer
    from transformers.models.siglip.image_processing_pil_siglip import SiglipImageProcessorPil

    tokenizer_file = directory / "spiece.model"
    directory.mkdir(parents=True, exist_ok=True)
    tokenizer_file.write_bytes(_sentencepiece_model())
    tokenizer = SiglipTokenizer(vocab_file=str(tokenizer_file), model_max_length=64)
    # SigLIP's special ids: pad = eos = </s> = 1, and no BOS.
    text = {"vocab_size": len(tokenizer), "pad_token_id": 1, "bos_token_id": None, "eos_token_id": 1} | text_config
    config = SiglipConfig(text_config=text, vision_config={"image_size": image_size} | vision_config)
    SiglipModel(config).eval().save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    SiglipImageProcessorPil(size={"height": image_size, "width": image_size}).save_pretrained(directory)


def _clip_tokenizer() -> Any:
    """CLIP's byte-level BPE over a tiny vocabulary: every byte, every byte ending a word, a few merges.

    As in CLIP's real vocabulary the two special tokens come last, so <|endoftext|> has the
    highest id: legacy CLIP configs (eos_token_id 2, as openai/clip-vit-large-patch14's) pool
    the position of the highest id.
    """
    from tokenizers import pre_tokenizers
    from transformers import CLIPTokenizer

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    merges = [("p", "h"), ("o", "t"), ("a", "t</w>"), ("c", "at</w>"), ("s", "h"), ("o", "e</w>")]
    pieces = alphabet + [piece + "</w>" for piece in alphabet] + ["".join(merge) for merge in merges]
    pieces += ["<|startoftext|>", "<|endoftext|>"]
    vocab = {piece: i for i, piece in enumerate(pieces)}
    # The stubs say list[str]; the tokenizers backend wants pairs (it rejects "a b" strings).
    return CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=77)  # type: ignore[arg-type]


def save_clip(
    directory: Path,
    *,
    text_config: dict[str, Any],
    vision_config: dict[str, Any],
    projection_dim: int,
    resize: int,
    crop: int,
) -> None:
    """A random-weight CLIPModel checkpoint with the hub's legacy config shapes (as openai/clip-vit-large-patch14)."""
    from transformers import CLIPConfig, CLIPModel

    tokenizer = _clip_tokenizer()
    # The hub's CLIP configs: pad 1, legacy eos 2 (pooling at the highest id), bos <|startoftext|>.
    text = {
        "vocab_size": len(tokenizer),
        "pad_token_id": 1,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": 2,
        "max_position_embeddings": 77,
    } | text_config
    config = CLIPConfig(text_config=text, vision_config=vision_config, projection_dim=projection_dim)
    CLIPModel(config).eval().save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    # Written as the hub's CLIP checkpoints have it: bare integers for size and crop_size.
    processor = {
        "crop_size": crop,
        "do_center_crop": True,
        "do_normalize": True,
        "do_resize": True,
        "feature_extractor_type": "CLIPFeatureExtractor",
        "image_mean": [0.48145466, 0.4578275, 0.40821073],
        "image_std": [0.26862954, 0.26130258, 0.27577711],
        "resample": 3,
        "size": resize,
    }
    (directory / "preprocessor_config.json").write_text(json.dumps(processor, indent=2))


_TINY_LAYERS = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2}


def build_tiny_models(directory: Path) -> dict[str, EncoderSpec]:
    """Write "tiny-dinov2", "tiny-siglip" and "tiny-clip" under ``directory``, register them, return their specs.

    Deterministic (seeded) and about a second on a laptop CPU.
    """
    import torch

    torch.manual_seed(0)
    dinov2_dir, siglip_dir = directory / TINY_DINOV2, directory / TINY_SIGLIP
    save_dinov2(dinov2_dir, _TINY_LAYERS | {"mlp_ratio": 2, "image_size": 28, "patch_size": 7}, resize=32, crop=28)
    tiny_tower = _TINY_LAYERS | {"intermediate_size": 64}
    save_siglip(
        siglip_dir,
        text_config=tiny_tower | {"max_position_embeddings": 64},
        vision_config=tiny_tower | {"patch_size": 8},
        image_size=32,
    )
    clip_dir = directory / TINY_CLIP
    # A projection narrower than the towers, so that a vector missing it would have the wrong width.
    save_clip(
        clip_dir,
        text_config=tiny_tower,
        vision_config=tiny_tower | {"patch_size": 8, "image_size": 32},
        projection_dim=24,
        resize=36,
        crop=32,
    )
    specs = {
        TINY_DINOV2: EncoderSpec(
            name=TINY_DINOV2, family="dinov2", source=str(dinov2_dir), dim=32, modality="image", image_size=28
        ),
        TINY_SIGLIP: EncoderSpec(
            name=TINY_SIGLIP, family="siglip", source=str(siglip_dir), dim=32, modality="image+text", image_size=32
        ),
        TINY_CLIP: EncoderSpec(
            name=TINY_CLIP, family="clip", source=str(clip_dir), dim=24, modality="image+text", image_size=32
        ),
    }
    for spec in specs.values():
        register(spec)
    return specs
