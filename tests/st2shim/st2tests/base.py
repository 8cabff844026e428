"""Re-exports, as in st2tests.base."""
from st2tests.action_aliases import BaseActionAliasTestCase  # noqa: F401
from st2tests.actions import BaseActionTestCase  # noqa: F401
from st2tests.sensors import BaseSensorTestCase  # noqa: F401
