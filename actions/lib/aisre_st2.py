"""Shared plumbing for the pack's python actions (action-side only; sensors carry their own guard).

Makes ``<pack>/lib`` importable even when st2 runs with ``[packs] enable_common_libs = False``,
builds the :class:`aisre.runtime.Runtime` from the pack config and the action's datastore, and turns
library errors into ``(False, {...})`` results (st2 marks the execution failed, no traceback).
"""
import os
import sys

_PACK_LIB = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "lib"))
if _PACK_LIB not in sys.path:
    sys.path.insert(0, _PACK_LIB)
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("MPLBACKEND", "Agg")

from st2common.runners.base_action import Action  # noqa: E402

from aisre.errors import SreError  # noqa: E402
from aisre.runtime import ChatOps, Runtime  # noqa: E402
from aisre.state import DatastoreStore  # noqa: E402


class AisreAction(Action):
    """Base for every aisre action. Subclasses define ``run`` and call :meth:`respond`."""

    _runtime = None

    @property
    def runtime(self):
        if self._runtime is None:
            self._runtime = Runtime(dict(self.config or {}), DatastoreStore(self.action_service))
        return self._runtime

    @property
    def chatops(self):
        return ChatOps(self.runtime)

    def respond(self, fn, *args, **kwargs):
        try:
            return True, fn(*args, **kwargs)
        except SreError as exc:
            self.logger.warning("%s", exc)
            return False, exc.to_dict()
