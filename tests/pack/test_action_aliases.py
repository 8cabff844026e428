"""Every alias format is tested, and no chat command matches more than one alias (st2 rejects ambiguity)."""
import packlint
from st2common.util.actionalias_matching import normalise_alias_format_string
from st2common.util.alias_parser import ActionAliasFormatParser, ParseException
from st2tests.base import BaseActionAliasTestCase

# command -> (alias name, expected parameters)
CASES = {
    "aisre status checkout": ("aisre_status", {"service": "checkout"}),
    "aisre incidents": ("aisre_incidents", {}),
    "aisre incident inc-3f2a9c": ("aisre_incident", {"incident_id": "inc-3f2a9c"}),
    "aisre explain inc-3f2a9c": ("aisre_explain", {"incident_id": "inc-3f2a9c"}),
    "aisre metrics checkout": ("aisre_metrics", {"service": "checkout", "window": "1h"}),
    "aisre metrics checkout 6h": ("aisre_metrics", {"service": "checkout", "window": "6h"}),
    "aisre restart checkout": ("aisre_restart", {"service": "checkout"}),
    "aisre restart checkout dry_run=true": ("aisre_restart", {"service": "checkout", "dry_run": "true"}),
    "aisre rollback inventory": ("aisre_rollback", {"service": "inventory"}),
    "aisre kill query 12345 on orders": ("aisre_kill_query", {"pid": "12345", "database": "orders"}),
    "aisre approve inc-3f2a9c": ("aisre_approve", {"ref": "inc-3f2a9c"}),
    "aisre deny 5f1c2a": ("aisre_deny", {"ref": "5f1c2a"}),
    "aisre pause": ("aisre_pause", {}),
    "aisre resume": ("aisre_resume", {}),
    "aisre mode limited": ("aisre_mode", {"mode": "limited"}),
    'aisre kb search "too many connections on orders-db"': ("aisre_kb_search", {"query": "too many connections on orders-db"}),
    "aisre kb search disk": ("aisre_kb_search", {"query": "disk"}),
    "aisre health": ("aisre_health", {}),
}


def all_formats():
    out = []
    for _, doc in packlint.alias_docs():
        for f in doc.get("formats", []):
            out.extend((doc["name"], r) for r in normalise_alias_format_string(f)[1])
    return out


class AliasCase(BaseActionAliasTestCase):
    __test__ = False
    action_alias_name = None

    def check(self):
        for command, (name, params) in CASES.items():
            if name != self.action_alias_name:
                continue
            fmt = self.get_all_format_strings()[0]
            self.assertExtractedParametersMatch(fmt, command, params)


def _make(name):
    return type(f"Test_{name}", (AliasCase,), {"__test__": True, "action_alias_name": name,
                                               "test_formats": lambda self: self.check()})


for _name in sorted({n for n, _ in CASES.values()}):
    globals()[f"Test_{_name}"] = _make(_name)


def test_every_alias_has_a_case():
    names = {doc["name"] for _, doc in packlint.alias_docs()}
    assert names == {n for n, _ in CASES.values()}


def test_no_command_matches_two_aliases():
    formats = all_formats()
    for command, (name, _) in CASES.items():
        hits = []
        for alias, fmt in formats:
            try:
                ActionAliasFormatParser(fmt, command).get_extracted_param_value()
                hits.append(alias)
            except ParseException:
                pass
        assert hits == [name], f"{command!r} matched {hits}"


def test_extracted_parameters_are_action_parameters():
    acts = packlint.actions()
    for _, doc in packlint.alias_docs():
        params = set(acts[doc["action_ref"]][1].get("parameters", {}))
        for command, (name, extracted) in CASES.items():
            if name == doc["name"]:
                assert set(extracted) <= params | {"dry_run"}, (command, set(extracted) - params)
        assert set(doc.get("immutable_parameters", {})) <= params


def test_unrelated_chat_does_not_match():
    for text in ("hello aisre", "aisre", "aisre restart", "aisre kill query on orders", "please drop table users"):
        for _, fmt in all_formats():
            try:
                ActionAliasFormatParser(fmt, text).get_extracted_param_value()
            except ParseException:
                continue
            raise AssertionError(f"{text!r} unexpectedly matched {fmt!r}")
