from lib.aisre_st2 import AisreAction


class EscalateIncident(AisreAction):
    def run(self, incident_id, reason=""):
        return self.respond(self.runtime.escalate, incident_id, reason)
