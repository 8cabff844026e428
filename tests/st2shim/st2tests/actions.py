from __future__ import annotations

from st2tests.mocks.action import MockActionService, MockActionWrapper
from st2tests.pack_resource import BasePackResourceTestCase


class BaseActionTestCase(BasePackResourceTestCase):
    action_cls = None

    def setUp(self):
        super().setUp()
        class_name = self.action_cls.__name__
        self.action_service = MockActionService(MockActionWrapper(pack="tests", class_name=class_name))

    def get_action_instance(self, config=None):
        try:
            return self.action_cls(config=config, action_service=self.action_service)
        except TypeError:
            instance = self.action_cls(config=config)
            instance.action_service = self.action_service
            return instance
