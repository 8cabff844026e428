from lib.aisre_st2 import AisreAction


class VerifyRemediation(AisreAction):
    def run(self, incident_id, action):
        ok, result = self.respond(self.runtime.verify, incident_id, action)
        # Fails until the symptom is gone, so the workflow's retry (count, delay) polls it.
        return ok and bool(result.get("ok")), result
