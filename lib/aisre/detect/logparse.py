"""Online log template mining: each line → ``(template_id, template, params)``.

Algorithm ("sibling evidence", our own; ideas from Drain, Brain and the Loghub studies)
----------------------------------------------------------------------------------------
1. **Mask.** :class:`aisre.detect.masking.Masker` replaces URLs, e-mail addresses, UUIDs, IPs, hex,
   paths and every digit-bearing piece of a token by ``<*>`` (rules are data: ``masking.yaml``).
   The masked line, split on whitespace, is a *leaf*; identical leaves are one dict lookup.
2. **Cluster.** A new leaf joins the most specific existing cluster of the same length whose
   template matches it (``<*>`` matches any token); otherwise it starts a cluster.
3. **Generalise on evidence, not on a similarity threshold.** For every cluster and every constant
   position ``p`` the miner indexes the *family key* "the template with ``p`` replaced by ``<*>``".
   Clusters that share a family key differ in exactly one token. When a family holds
   ``min_siblings`` clusters (4 by default; 3 when the differing tokens look like identifiers —
   they contain ``. / _ : @ -`` inside; 2 when a sibling shows a masked value in the same token
   shape, e.g. ``()`` and ``(<*>)``), position ``p`` is a variable: the family merges
   into one cluster whose template is the key. A merge may enable further merges (cascade), and a
   merged template absorbs every same-length cluster it matches. A family key must keep at least
   ``min_constants`` constant tokens, so short lines never collapse into ``<*> <*>``.
   Two words seen once each ("session opened" / "session closed") stay apart; many user names in
   the same slot merge. No per-system threshold is needed.
4. **Stable ids.** ``template_id`` is a hash of the template text, so the same template gets the
   same id in every process. When clusters merge, the absorbed ids are recorded in an alias map
   (``resolve(old_id)`` → current id) that is part of the persisted state.

State: ``to_state()`` / ``from_state()`` round-trip through JSON (leaves, clusters, aliases);
after a restart every line maps to the same id as before.

Unhappy input: ``bytes`` are decoded as UTF-8 with replacement; lines longer than
``max_line_chars`` are cut (the cut part is not parsed) and tokens past ``max_tokens`` become one
``<*>``; control characters are treated as ordinary text; an empty line maps to the empty
template. Memory is bounded: past ``max_clusters`` templates the miner stops learning (unmatched
lines get an unstored template, counted in ``overflow``); the leaf and raw-line caches are cleared
when full. Nothing here raises on input text.
"""
from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

from aisre.detect.masking import WILDCARD, MaskingRules, shared_masker
from aisre.errors import ValidationError

STATE_VERSION = 1
FAMILY_MAX_TOKENS = 64          # sibling families are indexed for lines up to this many tokens
_IDENTIFIER_CHARS = re.compile(r"\w[./_:@\-\\]+\w")


def template_id_of(template: str) -> str:
    """The stable id of a template text: ``T`` + 12 hex digits of its sha256."""
    return "T" + hashlib.sha256(template.encode("utf-8", "surrogatepass")).hexdigest()[:12]


@dataclass(frozen=True)
class ParsedLine:
    """One parsed line. ``params`` are the raw values at the template's ``<*>`` positions
    (computed on first access, so callers that only need the id pay nothing for them).

    ``is_new``: this line created a template never seen before. ``merged_from``: template ids that
    this line's arrival merged into ``template_id`` (callers keyed by the old ids fold them in).
    """
    template_id: str
    template: str
    is_new: bool = False
    merged_from: tuple[str, ...] = ()
    _source: tuple[str, str, tuple[str, ...]] = field(default=("", "", ()), repr=False, compare=False)

    @functools.cached_property
    def params(self) -> tuple[str, ...]:
        text, key, tokens = self._source
        return _extract_params(tokens, text, key)


@dataclass
class _Cluster:
    tokens: tuple[str, ...]
    gen: frozenset[int] = frozenset()   # positions generalised by sibling evidence
    count: int = 0
    template: str = ""
    tid: str = ""

    def refresh(self) -> None:
        self.template = " ".join(self.tokens)
        self.tid = template_id_of(self.template)


def _in_family(tokens: tuple[str, ...], key: tuple[str, ...], p: int) -> bool:
    return len(tokens) == len(key) and all(t == k for i, (t, k) in enumerate(zip(tokens, key)) if i != p)


def _skeleton(tokens: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(t for t in tokens if t != WILDCARD)


def _fit_token(parts: list[str], raw: str) -> list[str] | None:
    """Values of the ``<*>`` holes when ``raw`` fits the token pattern split into ``parts``
    (``"lock=<*>,"`` → ``["lock=", ","]``), leftmost-shortest; ``None`` when it does not fit.
    Linear in ``len(raw)``: plain ``str`` searches, no regex."""
    first, last = parts[0], parts[-1]
    if len(raw) < len(first) + len(last) or not raw.startswith(first) or not raw.endswith(last):
        return None
    pos, end = len(first), len(raw) - len(last)
    values = []
    for part in parts[1:-1]:
        i = raw.find(part, pos, end)
        if i < 0:
            return None
        values.append(raw[pos:i])
        pos = i + len(part)
    values.append(raw[pos:end])
    return values


def _align(masked: list[str], raw: list[str]) -> list[str] | None:
    """Raw text of each masked token, when masks spanned spaces (``12 ms`` → ``<*>``) or the tail
    was cut into one ``<*>``. Constants must match raw tokens exactly; a masked token takes as few
    raw tokens as possible (the last one takes the rest). ``None`` when they cannot be aligned."""
    out: list[str] = []
    j, n_raw, n = 0, len(raw), len(masked)
    for i, m in enumerate(masked):
        if j >= n_raw:
            return None
        if WILDCARD not in m:
            if raw[j] != m:
                return None
            out.append(raw[j])
            j += 1
            continue
        if i == n - 1:
            out.append(" ".join(raw[j:]))
            j = n_raw
            continue
        k = 1
        nxt = masked[i + 1]
        # extend while the next masked token is a constant not yet reached and raw tokens remain
        while (WILDCARD not in nxt and j + k < n_raw and raw[j + k] != nxt
               and n_raw - (j + k) > n - i - 1):
            k += 1
        if WILDCARD in nxt and n_raw - j > n - i and _fit_span(m, raw[j:j + 2]):
            k = 2
        out.append(" ".join(raw[j:j + k]))
        j += k
    return out if j == n_raw else None


def _fit_span(masked_token: str, pair: list[str]) -> bool:
    """Whether two raw tokens together form one masked token (e.g. ``12 ms`` for ``<*>``)."""
    return len(pair) == 2 and _fit_token(masked_token.split(WILDCARD), " ".join(pair)) is not None \
        and masked_token != WILDCARD and " " not in masked_token


def _extract_params(tokens: tuple[str, ...], text: str, key: str) -> tuple[str, ...]:
    """Raw values of the ``<*>`` in template ``tokens`` for the line ``text`` (masked form ``key``)."""
    if not any(WILDCARD in t for t in tokens):
        return ()
    raw = text.split()
    if len(raw) != len(tokens):
        # a mask spanned a space ("12 ms") or the line was cut at max_tokens: align the raw
        # tokens with the masked ones (this line's own key) so each masked token gets its text
        aligned = _align(key.split(" ") if key else [], raw)
        if aligned is None or len(aligned) != len(tokens):
            return ()
        raw = aligned
    out: list[str] = []
    for p, t in enumerate(tokens):
        if t == WILDCARD:
            out.append(raw[p])
        elif WILDCARD in t:
            values = _fit_token(t.split(WILDCARD), raw[p])
            if values is None:
                out.append(raw[p])
            else:
                out.extend(values)
    return tuple(out)


def decode_text(line: Any) -> str:
    """``str`` as is; bytes decoded as UTF-8 with replacement characters; anything else ``str()``."""
    if isinstance(line, str):
        return line
    if isinstance(line, (bytes, bytearray, memoryview)):
        return bytes(line).decode("utf-8", errors="replace")
    return str(line)


def _matches(template: tuple[str, ...], gen: frozenset[int], tokens: tuple[str, ...]) -> int:
    """Number of constant positions matched, or -1 when ``tokens`` does not fit ``template``.

    A masked ``<*>`` (a number, an IP …) only matches a masked token; a generalised position
    (in ``gen``) matches any token.
    """
    n = 0
    for p, (t, w) in enumerate(zip(template, tokens)):
        if t == w:
            if t != WILDCARD:
                n += 1
        elif t != WILDCARD or p not in gen:
            return -1
    return n


class TemplateMiner:
    """Online template miner, one configuration for every system (see module docstring).

    ``add(line)`` learns and returns a :class:`ParsedLine`; ``match(line)`` returns the template
    the line belongs to without learning (``None`` when it fits no template).
    """

    def __init__(self, *, min_siblings: int = 4, min_siblings_identifier: int = 3,
                 min_constants: int = 1, max_line_chars: int = 4096, max_tokens: int = 128,
                 max_clusters: int = 20_000, max_leaves: int = 200_000, cache_size: int = 100_000,
                 rules: MaskingRules | None = None) -> None:
        if min_siblings < 2 or min_siblings_identifier < 2:
            raise ValidationError("min_siblings must be >= 2", what="TemplateMiner")
        if max_line_chars < 16 or max_tokens < 2:
            raise ValidationError("max_line_chars must be >= 16 and max_tokens >= 2", what="TemplateMiner")
        self.min_siblings = min_siblings
        self.min_siblings_identifier = min_siblings_identifier
        self.min_constants = min_constants
        self.max_line_chars = max_line_chars
        self.max_tokens = max_tokens
        self.max_clusters = max_clusters
        self.max_leaves = max_leaves
        self.overflow = 0                         # lines not learned because max_clusters was reached
        self.cache_size = cache_size
        self.rules = rules
        self._masker = shared_masker(rules)
        self._clusters: dict[int, _Cluster] = {}
        self._by_len: dict[int, set[int]] = {}
        self._by_head: dict[tuple[int, str], set[int]] = {}   # (length, first token) -> clusters
        # hash of a family key -> one cluster key, or a set once a second member arrives (memory)
        self._families: dict[int, int | set[int]] = {}
        self._skeletons: dict[tuple[str, ...], int] = {}  # template without its bare <*> tokens
        self._leaves: dict[str, int] = {}         # masked line (single-spaced) -> cluster key
        self._parent: dict[int, int] = {}         # merged cluster key -> surviving key
        self._aliases: dict[str, str] = {}        # old template id -> newer template id
        self._raw_cache: dict[str, str] = {}      # raw line -> masked key (bounded)
        self._next = 0

    # ------------------------------------------------------------------ public API
    def add(self, line: Any) -> ParsedLine:
        text = self._prepare(line)
        key = self._key(text)
        ck = self._leaves.get(key)
        if ck is not None:
            c = self._clusters[self._find(ck)]
            c.count += 1
            return ParsedLine(c.tid, c.template, _source=(text, key, c.tokens))
        tokens = tuple(key.split(" ")) if key else ()
        ck = self._best_match(tokens)
        is_new = False
        merged: list[str] = []
        if ck is None and len(self._clusters) >= self.max_clusters:
            self.overflow += 1                   # stop learning: an unstored template, never "new"
            return ParsedLine(template_id_of(key), key, _source=(text, key, tokens))
        if ck is None:
            ck = self._new_cluster(tokens)
            is_new = True
            other = self._same_skeleton(ck)
            if other is not None:
                ck, is_new = other, False
            else:
                ck = self._generalise(ck, merged)
        if len(self._leaves) >= self.max_leaves:  # leaves are a lookup cache over the clusters
            self._leaves.clear()
        self._leaves[key] = ck
        c = self._clusters[self._find(ck)]
        c.count += 1
        if merged and c.tid in merged:
            merged.remove(c.tid)
        return ParsedLine(c.tid, c.template, is_new and not merged, tuple(merged), _source=(text, key, c.tokens))

    def match(self, line: Any) -> ParsedLine | None:
        text = self._prepare(line)
        key = self._key(text)
        ck = self._leaves.get(key)
        if ck is None:
            ck = self._best_match(tuple(key.split(" ")) if key else ())
            if ck is None:
                return None
        c = self._clusters[self._find(ck)]
        return ParsedLine(c.tid, c.template, _source=(text, key, c.tokens))

    def resolve(self, template_id: str) -> str:
        """Follow the alias map: the current id of a template id handed out earlier."""
        seen = set()
        while template_id in self._aliases and template_id not in seen:
            seen.add(template_id)
            template_id = self._aliases[template_id]
        return template_id

    def templates(self) -> list[tuple[str, str, int]]:
        """``(template_id, template, count)`` for every current template, most frequent first."""
        out = [(c.tid, c.template, c.count) for c in self._clusters.values()]
        return sorted(out, key=lambda r: (-r[2], r[0]))

    def template(self, template_id: str) -> str | None:
        tid = self.resolve(template_id)
        for c in self._clusters.values():
            if c.tid == tid:
                return c.template
        return None

    def __len__(self) -> int:
        return len(self._clusters)

    # ------------------------------------------------------------------ state
    def params(self) -> dict[str, Any]:
        return {"min_siblings": self.min_siblings, "min_siblings_identifier": self.min_siblings_identifier,
                "min_constants": self.min_constants, "max_line_chars": self.max_line_chars,
                "max_tokens": self.max_tokens, "max_clusters": self.max_clusters, "max_leaves": self.max_leaves,
                "cache_size": self.cache_size}

    def to_state(self) -> dict[str, Any]:
        """JSON-ready state: parameters, clusters (template + count), leaves and aliases."""
        keys = sorted(self._clusters)
        index = {k: i for i, k in enumerate(keys)}
        return {
            "version": STATE_VERSION,
            "params": self.params(),
            "clusters": [[self._clusters[k].template, self._clusters[k].count, sorted(self._clusters[k].gen)]
                         for k in keys],
            "leaves": {leaf: index[self._find(ck)] for leaf, ck in self._leaves.items()},
            "aliases": dict(self._aliases),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], rules: MaskingRules | None = None) -> "TemplateMiner":
        """Rebuild a miner from :meth:`to_state`. Raises :class:`ValidationError` on a bad state."""
        try:
            if state.get("version") != STATE_VERSION:
                raise ValidationError(f"unsupported miner state version {state.get('version')!r}",
                                      what="TemplateMiner")
            miner = cls(**state.get("params", {}), rules=rules)
            for template, count, gen in state["clusters"]:
                ck = miner._new_cluster(tuple(template.split(" ")) if template else (),
                                        frozenset(int(g) for g in gen))
                miner._clusters[ck].count = int(count)
            n = len(miner._clusters)
            for leaf, idx in state["leaves"].items():
                if not isinstance(leaf, str) or not 0 <= int(idx) < n:
                    raise ValidationError("bad leaf in miner state", what="TemplateMiner")
                miner._leaves[leaf] = int(idx)
            miner._aliases = {str(k): str(v) for k, v in state.get("aliases", {}).items()}
        except ValidationError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValidationError(f"malformed miner state: {exc}", what="TemplateMiner") from None
        return miner

    # ------------------------------------------------------------------ internals
    def _prepare(self, line: Any) -> str:
        text = decode_text(line)
        if len(text) > self.max_line_chars:
            text = text[: self.max_line_chars]
        return text

    def _key(self, text: str) -> str:
        key = self._raw_cache.get(text)
        if key is None:
            tokens = self._masker.mask(text).split()
            if len(tokens) > self.max_tokens:                 # bound per-line work and memory
                tokens = tokens[: self.max_tokens - 1] + [WILDCARD]
            key = " ".join(tokens)
            if len(self._raw_cache) >= self.cache_size:
                self._raw_cache.clear()
            self._raw_cache[text] = key
        return key

    def _find(self, ck: int) -> int:
        parent = self._parent
        root = ck
        while root in parent:
            root = parent[root]
        while ck in parent and parent[ck] != root:   # path compression
            parent[ck], ck = root, parent[ck]
        return root

    def _best_match(self, tokens: tuple[str, ...]) -> int | None:
        best, best_n = None, -1
        n = len(tokens)
        first = tokens[0] if tokens else ""
        candidates = self._by_head.get((n, first), ())
        if first != WILDCARD:
            candidates = (*candidates, *self._by_head.get((n, WILDCARD), ()))
        for ck in candidates:
            c = self._clusters[ck]
            n = _matches(c.tokens, c.gen, tokens)
            if n > best_n:
                best, best_n = ck, n
        return best

    def _family_keys(self, tokens: tuple[str, ...]) -> Iterator[tuple[int, tuple[str, ...]]]:
        if len(tokens) > FAMILY_MAX_TOKENS:          # long lines generalise through masks only
            return
        constants = sum(1 for t in tokens if t != WILDCARD)
        for p, t in enumerate(tokens):
            if t == WILDCARD:
                if constants >= self.min_constants:
                    yield p, tokens
            elif constants - 1 >= self.min_constants:
                yield p, tokens[:p] + (WILDCARD,) + tokens[p + 1:]

    def _new_cluster(self, tokens: tuple[str, ...], gen: frozenset[int] = frozenset()) -> int:
        ck = self._next
        self._next += 1
        c = _Cluster(tokens, gen)
        c.refresh()
        self._clusters[ck] = c
        self._by_len.setdefault(len(tokens), set()).add(ck)
        self._by_head.setdefault((len(tokens), tokens[0] if tokens else ""), set()).add(ck)
        self._skeletons.setdefault(_skeleton(tokens), ck)
        fams = self._families
        for _, fk in self._family_keys(tokens):
            h = hash(fk)
            cur = fams.get(h)
            if cur is None:
                fams[h] = ck
            elif isinstance(cur, set):
                cur.add(ck)
            elif cur != ck:
                fams[h] = {cur, ck}
        return ck

    def _drop_cluster(self, ck: int) -> _Cluster:
        c = self._clusters.pop(ck)
        self._by_len[len(c.tokens)].discard(ck)
        self._by_head[(len(c.tokens), c.tokens[0] if c.tokens else "")].discard(ck)
        skel = _skeleton(c.tokens)
        if self._skeletons.get(skel) == ck:
            del self._skeletons[skel]
        for _, fk in self._family_keys(c.tokens):
            h = hash(fk)
            fam = self._families.get(h)
            if fam == ck:
                del self._families[h]
            elif isinstance(fam, set):
                fam.discard(ck)
                if len(fam) == 1:
                    self._families[h] = next(iter(fam))
        return c

    def _same_skeleton(self, ck: int) -> int | None:
        """Variable-length parameters: a new cluster whose template equals an existing one once the
        bare ``<*>`` tokens are dropped ("sent" / "(<*> KB) sent" after masking) joins it."""
        c = self._clusters[ck]
        skel = _skeleton(c.tokens)
        if len(skel) < 2:
            return None
        other = self._skeletons.get(skel)
        if other is None or other == ck or other not in self._clusters:
            return None
        self._drop_cluster(ck)
        self._parent[ck] = other
        return other

    def _needed(self, members: set[int], p: int) -> int:
        values = [self._clusters[m].tokens[p] for m in members]
        plain = [v for v in values if WILDCARD not in v]
        if any(_IDENTIFIER_CHARS.search(v) for v in plain):
            # identifiers next to a bare masked value ("ns.example.com" / "<*>") need no more proof
            return 2 if WILDCARD in values else self.min_siblings_identifier
        if p > 0:       # the slot follows a noun that introduces a value: "user <*>", "host <*>"
            prev = self._clusters[next(iter(members))].tokens[p - 1].strip(":=\"'([{").lower()
            if prev in self._masker.rules.variable_after:
                return self.min_siblings_identifier
        for v in values:      # a sibling with a masked value in the same token shape, e.g. "()" / "(<*>)"
            if WILDCARD in v and v != WILDCARD:
                parts = v.split(WILDCARD)
                if all(_fit_token(parts, o) is not None for o in values if o is not v):
                    return 2
        return self.min_siblings

    def _generalise(self, ck: int, merged: list[str]) -> int:
        """Merge families that reached their sibling quota, cascading; returns the surviving key."""
        pending = [ck]
        while pending:
            cur = self._find(pending.pop())
            if cur not in self._clusters:
                continue
            tokens = self._clusters[cur].tokens
            for p, fk in self._family_keys(tokens):
                fam = self._families.get(hash(fk))
                if not isinstance(fam, set) or len(fam) < 2:
                    continue
                fam = {m for m in fam if _in_family(self._clusters[m].tokens, fk, p)}   # hash collisions
                if len(fam) < 2 or len(fam) < self._needed(fam, p):
                    continue
                target = self._merge(set(fam), fk, p, merged)
                pending.append(target)
                break
        return self._find(ck)

    def _merge(self, members: set[int], tokens: tuple[str, ...], p: int, merged: list[str]) -> int:
        gen = frozenset({p}).union(*(self._clusters[m].gen for m in members))
        # every same-length cluster the new template matches joins as well
        for other in list(self._by_len.get(len(tokens), ())):
            if other not in members and _matches(tokens, gen, self._clusters[other].tokens) >= 0:
                members.add(other)
                gen = gen | self._clusters[other].gen
        count = 0
        old_ids = []
        for m in members:
            c = self._drop_cluster(m)
            count += c.count
            old_ids.append(c.tid)
        target = self._new_cluster(tokens, gen)
        self._clusters[target].count = count
        new_id = self._clusters[target].tid
        for m in members:
            self._parent[m] = target
        for old in old_ids:
            if old != new_id:
                self._aliases[old] = new_id
                merged.append(old)
        return target



@dataclass
class EventAssembler:
    """Group physical lines into events: stack traces and continuation lines stay with their head.

    A line continues the current event when it is indented (space or tab), starts a Java frame
    (``at …``, ``... N more``, ``Caused by:``, ``Suppressed:``), is a qualified Java exception line
    (``java.lang.IllegalStateException: …``), is a Python traceback line
    (``Traceback``, ``File "…"``) or the final ``SomeError: …`` line of a Python traceback. A blank
    line ends the current event and is dropped. ``feed(line)`` returns the events completed by that line; ``flush()``
    returns the one in progress. An event is capped at ``max_lines`` lines / ``max_chars`` chars
    (the rest is counted in ``dropped`` and not kept), so a runaway trace cannot exhaust memory.
    """
    max_lines: int = 200
    max_chars: int = 65_536
    _lines: list[str] = field(default_factory=list)
    _chars: int = 0
    _in_python_tb: bool = False
    dropped: int = 0

    _CONT = re.compile(r"^(?:[ \t]+\S|\s*at [\w$.<>/]+\(|\s*\.\.\. \d+ (?:more|common frames omitted)"
                       r"|Caused by: |Suppressed: |\s*File \"|Traceback \(most recent call last\)"
                       r"|[A-Za-z_$][\w$]*(?:\.[\w$]+)+(?:Exception|Error|Throwable)\b(?::|$)"
                       r"|During handling of the above exception|The above exception was the direct cause)")
    _PY_EXC = re.compile(r"^[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning)\b(?::|$)")

    def feed(self, line: Any) -> list[str]:
        text = decode_text(line).rstrip("\r\n")
        if not text.strip():
            return self.flush()
        if self._lines and self._continues(text):
            self._append(text)
            return []
        done = self.flush()
        self._append(text)
        self._in_python_tb = text.startswith("Traceback (most recent call last)")
        return done

    def feed_many(self, lines: Iterable[Any]) -> list[str]:
        out: list[str] = []
        for line in lines:
            out.extend(self.feed(line))
        return out

    def flush(self) -> list[str]:
        if not self._lines:
            return []
        event = "\n".join(self._lines).rstrip("\n")
        self._lines, self._chars, self._in_python_tb = [], 0, False
        return [event]

    def _continues(self, text: str) -> bool:
        if not text.strip():
            return False
        if text.startswith("Traceback (most recent call last)"):
            self._in_python_tb = True
            return True
        if self._CONT.match(text):
            return True
        if self._in_python_tb and self._PY_EXC.match(text):
            self._in_python_tb = False       # the exception line closes a Python traceback
            return True
        return False

    def _append(self, text: str) -> None:
        if len(self._lines) >= self.max_lines or self._chars + len(text) > self.max_chars:
            self.dropped += 1
            return
        self._lines.append(text)
        self._chars += len(text) + 1
