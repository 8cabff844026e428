"""The shim must behave like StackStorm where our pack tests depend on it."""
import pytest

from st2common.util.alias_parser import ActionAliasFormatParser, ParseException
from st2tests.mocks.datastore import MockDatastoreService


def extract(fmt, cmd):
    return ActionAliasFormatParser(fmt, cmd).get_extracted_param_value()


def test_required_optional_and_quoted_values():
    assert extract("aisre status {{service}}", "aisre status checkout") == {"service": "checkout"}
    assert extract("aisre metrics {{service}} {{window=1h}}", "aisre metrics checkout") == {"service": "checkout", "window": "1h"}
    assert extract("aisre metrics {{service}} {{window=1h}}", "aisre metrics checkout 6h") == {"service": "checkout", "window": "6h"}
    assert extract("aisre kb search {{query}}", 'aisre kb search "disk full on db"') == {"query": "disk full on db"}


def test_regex_groups_and_trailing_key_value_pairs():
    fmt = "deploy {{repo}}( ref {{ref=main}})? now"
    assert extract(fmt, "deploy api ref v2 now") == {"repo": "api", "ref": "v2"}
    assert extract(fmt, "deploy api now") == {"repo": "api", "ref": "main"}
    assert extract("aisre restart {{service}}", "aisre restart checkout dry_run=true") == {"service": "checkout", "dry_run": "true"}


def test_non_matching_command_raises():
    with pytest.raises(ParseException):
        extract("aisre status {{service}}", "aisre incidents")


def test_datastore_stringifies_prefixes_and_expires():
    t = [100.0]
    ds = MockDatastoreService(pack_name="aisre", class_name="MetricSensor", clock=lambda: t[0])
    ds.set_value("cursor", 5)
    assert ds.get_value("cursor") == "5"
    assert ds.get_value("aisre.MetricSensor:cursor", local=False) == "5"
    ds.set_value("lease", "x", ttl=10, local=False)
    t[0] += 11
    assert ds.get_value("lease", local=False) is None
    with pytest.raises(ValueError):
        ds.set_value("x", "y", scope="user")
