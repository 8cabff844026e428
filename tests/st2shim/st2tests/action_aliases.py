from __future__ import annotations

import os

import yaml

from st2common.util.actionalias_matching import normalise_alias_format_string
from st2common.util.alias_parser import ActionAliasFormatParser, ParseException
from st2tests.pack_resource import BasePackResourceTestCase


class BaseActionAliasTestCase(BasePackResourceTestCase):
    action_alias_name = None

    def setUp(self):
        super().setUp()
        self.action_alias_db = self._get_action_alias_db_by_name(self.action_alias_name)

    def _get_action_alias_db_by_name(self, name):
        base = os.path.join(self._pack_root(), "aliases")
        for fn in sorted(os.listdir(base)):
            if fn.endswith((".yaml", ".yml")):
                with open(os.path.join(base, fn), encoding="utf-8") as fh:
                    doc = yaml.safe_load(fh)
                if doc.get("name") == name:
                    return doc
        raise ValueError(f'Alias with name "{name}" not found')

    @property
    def formats(self):
        return self.action_alias_db.get("formats", [])

    def assertExtractedParametersMatch(self, format_string, command, parameters):
        extracted = ActionAliasFormatParser(format_string, command).get_extracted_param_value()
        if extracted != parameters:
            self.fail(f'Extracted parameters from command string "{command}" against format string '
                      f'"{format_string}" didn\'t match the provided parameters: {extracted!r} != {parameters!r}')

    def assertCommandMatchesExactlyOneFormatString(self, format_strings, command):
        matched = []
        for fs in format_strings:
            try:
                ActionAliasFormatParser(fs, command).get_extracted_param_value()
                matched.append(fs)
            except ParseException:
                continue
        if len(matched) != 1:
            self.fail(f'Command "{command}" matched {len(matched)} format strings: {matched!r} (expected exactly one)')

    def assertCommandMatchesNoFormatString(self, format_strings, command):
        for fs in format_strings:
            try:
                ActionAliasFormatParser(fs, command).get_extracted_param_value()
            except ParseException:
                continue
            self.fail(f'Command "{command}" unexpectedly matched "{fs}"')

    def get_all_format_strings(self):
        out = []
        for f in self.formats:
            _, reps = normalise_alias_format_string(f)
            out.extend(reps)
        return out
