"""One module per model family; each exposes ``load(spec, runtime) -> Encoder``."""
