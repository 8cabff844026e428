from lib.aisre_st2 import AisreAction


class CheckHealth(AisreAction):
    def run(self, max_age_s=None):
        ok, result = self.respond(self.runtime.check_health, max_age_s)
        return ok and result.get("ok", False), result
