"""Shim of st2common.runners.base_action.Action."""
from __future__ import annotations

import abc
import logging


class Action(abc.ABC):
    def __init__(self, config=None, action_service=None):
        self.config = config or {}
        self.action_service = action_service
        self.logger = logging.getLogger(f"actions.python.{type(self).__name__}")

    @abc.abstractmethod
    def run(self, **kwargs):
        raise NotImplementedError
