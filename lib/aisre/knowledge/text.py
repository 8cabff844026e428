"""Text helpers for BM25, signature matching and the retriever: tokens, light stemming, phrases, routine log lines."""
from __future__ import annotations

import re
from collections import Counter

from aisre.detect.logwatch import detect_level

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_TOKEN = re.compile(r"[a-z0-9]+(?:_[a-z0-9]+)*")
MAX_QUERY_CHARS = 4000
#: A log line's timestamp (``2026-12-05T01:00:00Z``, ``Dec  5 01:00:00``, ``01:00:00.123``).
_TIMESTAMP = re.compile(r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}|\b\d{2}:\d{2}:\d{2}\b")
#: Anything that makes a line worth a look, whatever its level: a worse level, an error or trouble word, a 5xx.
_ALARMING = re.compile(
    r"\b(warn|warning|err|error|errors|fatal|crit|critical|alert|emerg|panic|severe|exception|traceback|fail\w*|"
    r"timeout|timed out|refused|denied|unavailable|unreachable|killed|oom\w*|evict\w*|backoff|back-off|"
    r"exhaust\w*|full|lag|slow|retry\w*|restart\w*|crash\w*|expir\w*|abort\w*|unhealthy|down|blocked|hung|"
    r"stuck|busy|maximum|limit|deadlock\w*|saturat\w*|throttl\w*|reject\w*|drop\w*|lost|leak\w*)\b"
    r"|\b(status|code)\W{0,3}5\d\d\b|\s5\d\d\s", re.I)

STOPWORDS = frozenset("""
a an the and or but if then than so of to in on at by for from with without into onto over under after before
since until as is are was were be been being it its this that these those there here we our us you your i me my
he she they them their what which who whom why how when where do does did done can could should would will may
might must not no yes any all some each every one just now also very too more most less much many only own same
per via up down out off again further once about above below between through during while again still got get
has have had having having anyone know see looks look like seems think hey please ok okay
""".split())


def camel_split(text: str) -> str:
    """``KubePodCrashLooping`` -> ``Kube Pod Crash Looping`` (the original is kept by :func:`tokens`)."""
    return _CAMEL.sub(" ", text)


def stem(word: str) -> str:
    """A deliberately tiny suffix stemmer (restarting/restarts/restarted -> restart, queues -> queue)."""
    if word.isdigit() or len(word) < 4:
        return word
    for suf in ("ing", "ed"):
        if word.endswith(suf) and len(word) - len(suf) >= 3:
            word = word[: -len(suf)]
            if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "lsz":
                word = word[:-1]               # running -> run, dropped -> drop
            return word
    if word.endswith(("sses", "xes", "ches", "shes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) >= 4:
        return word[:-1]
    return word


def tokens(text: str) -> list[str]:
    """Lowercase stemmed tokens: words, camelCase parts, underscore parts; stopwords and long numbers dropped.

    >>> tokens("KubePodCrashLooping: pods restarting")
    ['kubepodcrashloop', 'pod', 'restart', 'kube', 'pod', 'crash', 'loop']
    """
    text = text[:MAX_QUERY_CHARS]
    words = _TOKEN.findall(text.lower())
    extra = Counter(_TOKEN.findall(camel_split(text).lower())) - Counter(words)
    out: list[str] = []
    for tok in words + list(extra.elements()):
        for p in ([tok] if "_" not in tok else [tok, *tok.split("_")]):
            if p in STOPWORDS or len(p) < 2 or (p.isdigit() and len(p) > 4):
                continue
            out.append(stem(p))
    return out


def normalise(text: str) -> str:
    """Lowercase and collapse whitespace (for phrase matching)."""
    return " ".join(text[:MAX_QUERY_CHARS].lower().split())


def contains_phrase(haystack_norm: str, phrase_norm: str) -> bool:
    """Case-insensitive phrase search with word boundaries at alphanumeric edges."""
    if not phrase_norm:
        return False
    start = 0
    n = len(phrase_norm)
    while True:
        i = haystack_norm.find(phrase_norm, start)
        if i < 0:
            return False
        before_ok = i == 0 or not (phrase_norm[0].isalnum() and haystack_norm[i - 1].isalnum())
        j = i + n
        after_ok = j >= len(haystack_norm) or not (phrase_norm[-1].isalnum() and haystack_norm[j].isalnum())
        if before_ok and after_ok:
            return True
        start = i + 1


def routine_log_lines(text: str) -> bool:
    """True when ``text`` is nothing but log lines at a routine level (every non-empty line has a timestamp and
    reads as INFO or DEBUG to the log sensor's :func:`~aisre.detect.logwatch.detect_level`) and no line
    carries an error or trouble word or a 5xx status.
    Such a paste is what a healthy service prints; the acceptance model was fitted on alerts and messages, and
    on these it must not lift the opinions' confidence (see ``Retriever._accepted``).

    >>> routine_log_lines("2026-12-05T01:00:00Z INFO request completed path=/api status=200")
    True
    >>> routine_log_lines("01:00:00 INFO request completed status=200\\n01:00:01 ERROR pool exhausted")
    False
    >>> routine_log_lines("checkout is slow since this morning")
    False
    """
    lines = [line for line in text[:MAX_QUERY_CHARS].splitlines() if line.strip()]
    return bool(lines) and all(_TIMESTAMP.search(line) and detect_level(line) in ("info", "debug")
                               and not _ALARMING.search(line) for line in lines)
