from __future__ import annotations

from st2tests.mocks.datastore import MockDatastoreService


class MockActionWrapper:
    def __init__(self, pack, class_name):
        self._pack = pack
        self._class_name = class_name


class MockActionService:
    def __init__(self, action_wrapper):
        self._action_wrapper = action_wrapper
        self.datastore_service = MockDatastoreService(pack_name=action_wrapper._pack,
                                                      class_name=action_wrapper._class_name)

    def get_value(self, *a, **kw): return self.datastore_service.get_value(*a, **kw)
    def set_value(self, *a, **kw): return self.datastore_service.set_value(*a, **kw)
    def delete_value(self, *a, **kw): return self.datastore_service.delete_value(*a, **kw)
    def list_values(self, *a, **kw): return self.datastore_service.list_values(*a, **kw)
    def get_user_info(self): return self.datastore_service.get_user_info()
