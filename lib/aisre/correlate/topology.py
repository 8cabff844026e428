"""Service dependency graph used for grouping: who depends on whom, transitively."""
from __future__ import annotations

from typing import Mapping, Sequence


class Topology:
    """``dependencies`` maps a service to the services it depends on (``checkout -> [db]``)."""

    def __init__(self, dependencies: Mapping[str, Sequence[str]] | None = None) -> None:
        self._deps: dict[str, tuple[str, ...]] = {s: tuple(d) for s, d in (dependencies or {}).items()}

    def depends_on(self, service: str) -> set[str]:
        """Every service ``service`` depends on, transitively (cycles tolerated)."""
        seen: set[str] = set()
        stack = list(self._deps.get(service, ()))
        while stack:
            s = stack.pop()
            if s in seen or s == service:
                continue
            seen.add(s)
            stack.extend(self._deps.get(s, ()))
        return seen

    def closure(self, service: str) -> set[str]:
        """The service and everything it depends on."""
        return {service} | self.depends_on(service)

    def common_root(self, services: Sequence[str]) -> str | None:
        """The deepest dependency shared by all ``services`` (or one of them if it underlies the rest).

        Returns None when they share nothing. "Deepest" = the shared service that itself depends on
        no other shared service, ties broken by name so the answer is stable.
        """
        if not services:
            return None
        shared = set.intersection(*(self.closure(s) for s in services))
        if not shared:
            return None
        roots = sorted(s for s in shared if not (self.depends_on(s) & shared))
        return roots[0] if roots else sorted(shared)[0]
