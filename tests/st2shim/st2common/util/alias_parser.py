"""Parser with StackStorm's alias format semantics.

* ``{{name}}`` required, ``{{name=default}}`` optional with a default;
* a value is ``"double quoted"``, ``'single quoted'``, ``{json}`` or one token;
* trailing ``key=value`` pairs are peeled off the command and added as extra parameters;
* the rest of the format string is a regular expression, anchored at both ends.
"""
from __future__ import annotations

import re

_KEY = r"\s*(\S+?)\s*"
_VALUE = r"\"\"|''|\"(.+?)\"|'(.+?)'|(\{.+?\})|(\S+)"
_EXT_VALUE = r"\"\"|''|\"(.+?)\"|'(.+?)'|(\{.+?\})|(.+?)"
_PAIR = r"(?:^|\s+)" + _KEY + r"=(" + _VALUE + r")"
_ENDING = r".*?((" + _PAIR + r"\s*)*)$"
_OPTIONAL = r"\{\{" + _KEY + r"\s*=\s*(?:" + _EXT_VALUE + r")\s*\}\}"
_REQUIRED = r"\{\{" + _KEY + r"\}\}"
_PARAM = r"\1[\"']?(?P<\2>(?:(?<=').+?(?=')|(?<=\").+?(?=\")|\{.+?\}|.+?))[\"']?"


class ParseException(ValueError):
    pass


class ActionAliasFormatParser:
    def __init__(self, alias_format=None, param_stream=None):
        self._format = alias_format or ""
        self._original = param_stream or ""
        self._kv_pairs, self._stream = self._peel_pairs(self._original)
        self._optional = re.findall(_OPTIONAL, self._format, re.DOTALL)
        self._regex = self._compile()

    @staticmethod
    def _peel_pairs(stream):
        m = re.match(_ENDING, stream, re.DOTALL)
        pairs = []
        if m and m.group(1):
            pairs = re.findall(_PAIR, m.group(1), re.DOTALL)
            stream = stream[: m.start(1)] + stream[m.end(1):]
        return pairs, f" {stream} "

    def _compile(self):
        reg = re.sub(r"(\s*)" + _OPTIONAL, r"(?:" + _PARAM + r")?", self._format)
        reg = re.sub(r"(\s*)" + _REQUIRED, _PARAM, reg)
        return re.compile(r"^\s*" + reg + r"\s*$", re.DOTALL)

    def get_extracted_param_value(self):
        match = self._regex.search(self._stream)
        if not match:
            raise ParseException(f'Command "{self._original}" doesn\'t match format string "{self._format}"')
        result = {k: v for k, v in match.groupdict().items()}
        for opt in self._optional:
            name, rest = opt[0], opt[1:]
            if not result.get(name):
                result[name] = "".join(p for p in rest if p)
        for pair in self._kv_pairs:
            key = pair[0]
            result[key] = "".join(p for p in pair[2:] if p)
        for k, v in list(result.items()):
            if v is None:
                del result[k]
        return result
